/// <reference path="./interfaces/cs-plugin-criteria-filter.d.ts" />
/// <reference path="./interfaces/cs-plugin-field-mapper.d.ts" />
/// <reference path="./interfaces/cs-plugin-host.d.ts" />
/// <reference path="./interfaces/cs-plugin-lifecycle.d.ts" />
/// <reference path="./interfaces/cs-plugin-metadata.d.ts" />
/// <reference path="./interfaces/cs-plugin-notifier.d.ts" />
/// <reference path="./interfaces/cs-plugin-types.d.ts" />
declare module 'cs:plugin/every-extension@0.1.0' {
  export type * as CsPluginHost010 from 'cs:plugin/host@0.1.0'; // import cs:plugin/host@0.1.0
  export type * as CsPluginTypes010 from 'cs:plugin/types@0.1.0'; // import cs:plugin/types@0.1.0
  export * as metadata from 'cs:plugin/metadata@0.1.0'; // export cs:plugin/metadata@0.1.0
  export * as fieldMapper from 'cs:plugin/field-mapper@0.1.0'; // export cs:plugin/field-mapper@0.1.0
  export * as criteriaFilter from 'cs:plugin/criteria-filter@0.1.0'; // export cs:plugin/criteria-filter@0.1.0
  export * as notifier from 'cs:plugin/notifier@0.1.0'; // export cs:plugin/notifier@0.1.0
  export * as lifecycle from 'cs:plugin/lifecycle@0.1.0'; // export cs:plugin/lifecycle@0.1.0
}
