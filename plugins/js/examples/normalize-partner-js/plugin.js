// normalize-partner-js: the `normalize-partner` field mapper, in JavaScript.
//
// Trims every text value, title-cases the name (keeping `IBM` and `GmbH`), lower-cases and
// checks the email and the website's domain (a bad one rejects the row, naming the field), and
// sets `region` from the `country` code by the `regions` configuration key.

import {
  defineFieldMapper,
  defineMetadata,
  host,
  optionalKey,
  reject,
} from '@cs-host/plugin-sdk';

const DEFAULT_REGIONS =
  'US=North America,CA=North America,MX=LATAM,BR=LATAM,AR=LATAM,GB=EMEA,IE=EMEA,DE=EMEA,' +
  'FR=EMEA,ES=EMEA,IT=EMEA,NL=EMEA,SE=EMEA,JP=APAC,AU=APAC,IN=APAC,SG=APAC,CN=APAC';

export const metadata = defineMetadata({
  name: 'normalize-partner-js',
  version: '0.1.0',
  description:
    'Trims values, title-cases names, checks emails and websites, maps countries to regions',
  config: [
    optionalKey(
      'regions',
      'Country code to region, as CODE=Region pairs separated by commas',
      DEFAULT_REGIONS,
    ),
  ],
});

// The region table, read from the host once per instance rather than once per row.
let regions;

export const fieldMapper = defineFieldMapper((row) => {
  regions ??= parseRegions(host.config('regions') ?? DEFAULT_REGIONS);
  for (const field of row.fields) {
    const text = row.text(field);
    if (text !== undefined) row.set(field, text.trim());
  }
  const name = row.text('name');
  if (name !== undefined) row.set('name', titleCase(name));
  const email = row.text('email');
  if (email) {
    const lower = email.toLowerCase();
    if (!isEmail(lower)) return reject('email', `\`${lower}\` is not an email address`);
    row.set('email', lower);
  }
  const website = row.text('website');
  if (website) {
    const normal = normalizeWebsite(website);
    if (normal === undefined) return reject('website', `\`${website}\` is not a website address`);
    row.set('website', normal);
  }
  const country = row.text('country');
  if (country) {
    const code = country.toUpperCase();
    const region = regions.get(code);
    if (region === undefined) host.debug(`row ${row.number}: no region for country \`${code}\``);
    else row.set('region', region);
  }
  return undefined;
});

function parseRegions(table) {
  const map = new Map();
  for (const pair of table.split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) map.set(pair.slice(0, at).trim().toUpperCase(), pair.slice(at + 1).trim());
  }
  return map;
}

// `acme corp` becomes `Acme Corp`, `BENNETT` becomes `Bennett`; acronyms of up to four capitals
// and mixed-case words stay as they are.
export function titleCase(name) {
  return name
    .split(' ')
    .map((word) => {
      let upper = 0;
      let lower = 0;
      for (const c of word) {
        if (c !== c.toLowerCase()) upper++;
        else if (c !== c.toUpperCase()) lower++;
      }
      if (!(upper === 0 || (lower === 0 && upper > 4))) return word;
      const [first, ...rest] = word;
      return first === undefined ? word : first.toUpperCase() + rest.join('').toLowerCase();
    })
    .join(' ');
}

function isDomain(domain) {
  const labels = domain.split('.');
  const ok = labels.every(
    (l) => l !== '' && !l.startsWith('-') && !l.endsWith('-') && /^[A-Za-z0-9-]+$/.test(l),
  );
  const last = labels[labels.length - 1];
  return ok && labels.length >= 2 && /^[A-Za-z]{2,}$/.test(last);
}

function isEmail(email) {
  const at = email.indexOf('@');
  if (at < 0) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  return local !== '' && !/\s/.test(local) && !domain.includes('@') && isDomain(domain);
}

function normalizeWebsite(website) {
  const sep = website.indexOf('://');
  const scheme = sep < 0 ? undefined : website.slice(0, sep).toLowerCase();
  const rest = sep < 0 ? website : website.slice(sep + 3);
  const slash = rest.indexOf('/');
  const domain = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase();
  const path = slash < 0 ? '' : rest.slice(slash);
  if (!isDomain(domain)) return undefined;
  return scheme === undefined ? `${domain}${path}` : `${scheme}://${domain}${path}`;
}
