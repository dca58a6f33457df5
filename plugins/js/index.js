// @cs-host/plugin-sdk: write cs-host plugins in JavaScript or TypeScript.
//
// A plugin is an ES module that exports `metadata` (what it is) and one object per extension
// point it serves: `fieldMapper`, `criteriaFilter`, `notifier`, `lifecycle`. The `define*`
// functions below build those objects from plain functions and convert the contract's values
// (variants, spans, 64-bit integers) to and from ordinary JavaScript values.
// `cs-plugin-build plugin.js` bundles the module and turns it into a component.

import * as wit from 'cs:plugin/host@0.1.0';

/** An error a plugin reports on purpose: a machine-readable code and a message for people. */
export class PluginError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'PluginError';
    this.code = code;
    // The component glue reports a thrown value's `payload` as the function's error.
    this.payload = { code, message };
  }
}

/** Logging, configuration and look-ups: what the host offers a plugin. */
export const host = {
  /** Writes a line to the plugin's log at a level: trace, debug, info, warn, error, fatal. */
  log(level, message) {
    wit.log(level, String(message));
  },
  debug(message) {
    wit.log('debug', String(message));
  },
  info(message) {
    wit.log('info', String(message));
  },
  warn(message) {
    wit.log('warn', String(message));
  },
  error(message) {
    wit.log('error', String(message));
  },
  /** The tenant's value for a configuration key, or its declared default; undefined if none. */
  config(key) {
    return wit.config(key);
  },
  /** The tenant's company with this id, or undefined. Needs the `read-companies` grant. */
  companyById(id) {
    return lookup(() => wit.companyById(id));
  },
  /** The tenant's company with exactly this name, or undefined. Needs `read-companies`. */
  companyByName(name) {
    return lookup(() => wit.companyByName(name));
  },
};

function lookup(call) {
  try {
    const company = call();
    return company === undefined ? undefined : new Company(company);
  } catch (e) {
    const reason = e && e.payload !== undefined ? e.payload : e;
    throw new PluginError(
      'not-granted',
      `company look-ups need the read-companies capability (${reason})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Values

/** A calendar date as `{ year, month, day }`. */
export function date(year, month, day) {
  return { year, month, day };
}

/** A contract `field-value` as a JavaScript value: null, string, number, boolean or a date. */
export function fromFieldValue(value) {
  switch (value.tag) {
    case 'null':
      return null;
    case 'integer':
      return Number(value.val);
    case 'date':
      return { year: value.val.year, month: value.val.month, day: value.val.day };
    default:
      return value.val;
  }
}

/**
 * A JavaScript value as a contract `field-value`. Whole numbers become integers, other numbers
 * numbers; `{ year, month, day }` is a date; null and undefined clear the field.
 */
export function toFieldValue(value) {
  if (value === null || value === undefined) return { tag: 'null' };
  switch (typeof value) {
    case 'string':
      return { tag: 'text', val: value };
    case 'boolean':
      return { tag: 'boolean', val: value };
    case 'bigint':
      return { tag: 'integer', val: value };
    case 'number':
      return Number.isSafeInteger(value)
        ? { tag: 'integer', val: BigInt(value) }
        : { tag: 'number', val: value };
    default:
      if ('year' in value && 'month' in value && 'day' in value) {
        return { tag: 'date', val: { year: value.year, month: value.month, day: value.day } };
      }
      throw new TypeError(`cannot pass ${JSON.stringify(value)} as a field value`);
  }
}

/** A number from a whole number, a number, or text that reads as one; otherwise undefined. */
function asNumber(value) {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value.trim());
    return Number.isNaN(n) ? undefined : n;
  }
  return undefined;
}

/** A company record: id, name, managedAs, managedBy and its fields. */
export class Company {
  constructor(record) {
    this.id = record.id;
    this.name = record.name;
    this.managedAs = record.managedAs;
    this.managedBy = record.managedBy;
    this.fields = {};
    for (const field of record.fields) this.fields[field.name] = fromFieldValue(field.value);
  }

  /** A field's value (null when empty), or undefined when the host did not pass the field. */
  field(name) {
    return this.fields[name];
  }

  /** A field as a number: whole numbers, numbers, and text that reads as one. */
  number(name) {
    return asNumber(this.fields[name]);
  }
}

// ---------------------------------------------------------------------------------------------
// Metadata

/** A configuration key the admin may set; `defaultValue` is used when they set none. */
export function optionalKey(name, description, defaultValue) {
  return { name, description, defaultValue, required: false };
}

/** A configuration key the admin must set before the plugin can be enabled. */
export function requiredKey(name, description) {
  return { name, description, defaultValue: undefined, required: true };
}

/**
 * The `metadata` export: `export const metadata = defineMetadata({ name, version, description,
 * capabilities, config, reads, readsSource })`. Only name, version and description are needed;
 * `reads` defaults to every field (`['*']`): naming the fields a mapper reads makes calls cheaper.
 */
export function defineMetadata(info) {
  const described = {
    name: info.name,
    version: info.version,
    description: info.description ?? '',
    capabilities: info.capabilities ?? [],
    config: (info.config ?? []).map((key) => ({
      name: key.name,
      description: key.description ?? '',
      defaultValue: key.defaultValue,
      required: key.required ?? false,
    })),
    reads: info.reads ?? ['*'],
    readsSource: info.readsSource ?? false,
  };
  return { describe: () => described };
}

// ---------------------------------------------------------------------------------------------
// Field mapper

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Why a row does not go in. Return one from a field mapper. */
export function skip(reason) {
  return { tag: 'skip', val: String(reason) };
}

/** Refuses a row because of a field: the import reports it as failed, naming the field. */
export function reject(field, message) {
  return { tag: 'reject', val: { field, message: String(message) } };
}

/**
 * One row of an import after the admin's column mapping.
 *
 * Its values are cells pointing into the text of its call (one row with contract 0.1.0, a batch
 * of rows with 0.2.0): the text is turned into bytes once per call, and a value is decoded only
 * when the plugin reads it.
 */
export class Row {
  constructor(schema, batch, at, number) {
    /** The row's data row number: 1 for the first row after the header, as the import report counts. */
    this.number = number;
    this._schema = schema;
    this._batch = batch;
    this._base = at * schema.fields.length;
    this._at = at;
    this._changed = new Map();
    this._added = new Map();
  }

  /** The names of the fields the row carries, in order. */
  get fields() {
    return this._schema.fields;
  }

  /**
   * What the import's rows are for: 'company', 'partner' or 'relationship' when the host says
   * (contract 0.2.0 says in `begin`; with 0.1.0, read the `cs.import.object` configuration key).
   */
  get object() {
    return this._schema.object;
  }

  /** A field's value (null when empty); undefined when the row does not carry the field. */
  get(field) {
    if (this._added.has(field)) return this._added.get(field);
    const i = this._schema.index.get(field);
    if (i === undefined) return undefined;
    if (this._changed.has(i)) return this._changed.get(i);
    const cell = this._batch.cells[this._base + i];
    return cell.tag === 'text' ? this._batch.span(cell.val) : fromFieldValue(cell);
  }

  /** A field's text, or undefined when it holds no text (a number during an import, say). */
  text(field) {
    const value = this.get(field);
    return typeof value === 'string' ? value : undefined;
  }

  /**
   * A field as a number: whole numbers and numbers, and text that reads as one. During an
   * import a number field (such as `arr`) arrives as a number; in `cshost plugin run` it is
   * whatever the JSON input holds.
   */
  numeric(field) {
    return asNumber(this.get(field));
  }

  /** A source column's text, when the plugin declared `readsSource`. */
  source(column) {
    const i = this._schema.columns.indexOf(column);
    return i < 0 ? undefined : this._batch.source(this._at, i);
  }

  /** Sets a field. Only fields that change are sent back to the host. */
  set(field, value) {
    const i = this._schema.index.get(field);
    if (i === undefined) {
      this._added.set(field, value);
    } else if (this.get(field) !== value) {
      this._changed.set(i, value);
    }
  }

  _changes() {
    const changed = [];
    for (const [index, value] of this._changed) changed.push({ index, value: toFieldValue(value) });
    const added = [];
    for (const [name, value] of this._added) added.push({ name, value: toFieldValue(value) });
    return { changed, added };
  }
}

/** The text and cells of one call: spans count UTF-8 bytes, JavaScript strings UTF-16 units. */
class Batch {
  constructor(text, cells, sources, columns) {
    this.text = text;
    this.cells = cells;
    this._sources = sources;
    this._columns = columns;
    this._bytes = undefined;
    // A text of ASCII only (the common case) is sliced as it is, without a byte copy.
    this._ascii = !/[^\x00-\x7f]/.test(text);
  }

  span({ offset, len }) {
    if (this._ascii) return this.text.slice(offset, offset + len);
    this._bytes ??= encoder.encode(this.text);
    return decoder.decode(this._bytes.subarray(offset, offset + len));
  }

  /** Row `at`'s source column `i`: a list of strings (0.1.0) or spans of the text (0.2.0). */
  source(at, i) {
    const source = this._sources[at * this._columns + i];
    return typeof source === 'string' || source === undefined ? source : this.span(source);
  }
}

/** The length of a string in UTF-8 bytes. */
function utf8Length(text) {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) continue;
    if (unit < 0x800) bytes += 1;
    else if (unit >= 0xd800 && unit <= 0xdbff) i++, (bytes += 2);
    else bytes += 2;
  }
  return bytes;
}

/** Logs an exception as the plugin's last words, then lets it stop the plugin (a trap). */
function crash(e) {
  wit.log('fatal', e && e.stack ? `${e}\n${e.stack}` : String(e));
  return e;
}

/**
 * The `fieldMapper` export: `export const fieldMapper = defineFieldMapper((row) => { ... })`.
 * The function changes the row with `row.set` and returns nothing to keep it, `skip(reason)` to
 * leave it out, or `reject(field, message)` to refuse it.
 *
 * The same object serves either contract: `mapRow` one row at a time (`cs:plugin@0.1.0`),
 * `mapRows` batches of rows (`cs:plugin@0.2.0`, built with `cs-plugin-build --contract 0.2.0`).
 */
export function defineFieldMapper(mapRow) {
  let schema = { object: undefined, columns: [], fields: [], index: new Map() };
  const run = (row) => {
    try {
      return mapRow(row);
    } catch (e) {
      // A field mapper refuses rows by returning skip() or reject(); anything thrown stops it.
      throw crash(e);
    }
  };
  return {
    // 0.1.0: begin(columns, fields); 0.2.0: begin(object, columns, fields).
    begin(...args) {
      const [object, columns, fields] = args.length === 3 ? args : [undefined, ...args];
      schema = { object, columns, fields, index: new Map(fields.map((name, i) => [name, i])) };
    },
    mapRow(witRow) {
      const batch = new Batch(witRow.text, witRow.values, witRow.source, witRow.source.length);
      const row = new Row(schema, batch, 0, Number(witRow.number));
      const outcome = run(row);
      return outcome ?? { tag: 'keep', val: row._changes() };
    },
    mapRows(rows) {
      const batch = new Batch(rows.text, rows.cells, rows.source, schema.columns.length);
      const outcomes = [];
      const texts = [];
      let length = 0;
      const changed = [];
      const added = [];
      for (let at = 0; at < rows.numbers.length; at++) {
        const row = new Row(schema, batch, at, Number(rows.numbers[at]));
        const outcome = run(row);
        if (outcome) {
          outcomes.push(outcome);
          continue;
        }
        outcomes.push({ tag: 'keep' });
        for (const [index, value] of row._changed) {
          let cell;
          if (typeof value === 'string') {
            const len = utf8Length(value);
            cell = { tag: 'text', val: { offset: length, len } };
            texts.push(value);
            length += len;
          } else {
            cell = toFieldValue(value);
          }
          changed.push({ row: at, index, value: cell });
        }
        for (const [name, value] of row._added) {
          added.push({ row: at, field: { name, value: toFieldValue(value) } });
        }
      }
      return { outcomes, text: texts.join(''), changed, added };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Criteria filter, notifier, lifecycle

/** Runs a function that returns a result: a PluginError is the plugin's error, others crash. */
function guarded(call) {
  try {
    return call();
  } catch (e) {
    if (e instanceof PluginError) throw e;
    throw crash(e);
  }
}

/**
 * The `criteriaFilter` export: `export const criteriaFilter = defineCriteriaFilter((company,
 * args) => boolean)`. `args` maps each argument's name to its value (`plugin:NAME tier=gold`
 * gives `{ tier: 'gold' }`). Throw a `PluginError('bad-argument', ...)` to refuse the arguments.
 */
export function defineCriteriaFilter(matches) {
  return {
    matches(witArguments, candidates) {
      return guarded(() => {
        const args = {};
        for (const field of witArguments) args[field.name] = fromFieldValue(field.value);
        return candidates.map((company) => Boolean(matches(new Company(company), args)));
      });
    },
  };
}

/** An email notification. Write `{link}` where the recipient's own link goes. */
export function email(recipient, subject, body) {
  return { channel: 'email', recipient, subject, body };
}

/** A notification inside the platform. */
export function inApp(recipient, subject, body) {
  return { channel: 'in-app', recipient, subject, body };
}

/**
 * The `notifier` export: `export const notifier = defineNotifier((event, planned) => [...])`.
 * Return the notifications to send instead of `planned`; an empty list sends nothing.
 */
export function defineNotifier(onPlanShared) {
  return {
    onPlanShared(event, planned) {
      return guarded(() => onPlanShared(event, planned));
    },
  };
}

/** Lifecycle actions: set a field, open a CTA, send a notification. */
export const actions = {
  setField(name, value) {
    return { tag: 'set-field', val: { name, value: toFieldValue(value) } };
  },
  /** Opens a CTA: kind is risk, expansion, lifecycle, activity or objective. */
  openCta(kind, name, { priority = 'medium', dueInDays } = {}) {
    return { tag: 'open-cta', val: { kind, name, priority, dueInDays } };
  },
  notify(notification) {
    return { tag: 'notify', val: notification };
  },
};

/**
 * The `lifecycle` export: `export const lifecycle = defineLifecycle((partner) => [actions])`.
 * `partner.company` is a Company; `partner.scope` is company-records, relationship-records or
 * both.
 */
export function defineLifecycle(onPartnerCreated) {
  return {
    onPartnerCreated(partner) {
      return guarded(() =>
        onPartnerCreated({ company: new Company(partner.company), scope: partner.scope }),
      );
    },
  };
}
