/// <reference path="./cs-plugin-types.d.ts" />
declare module 'cs:plugin/criteria-filter@0.1.0' {
  /**
   * Answers, for each candidate company, whether it matches: one answer per candidate, in
   * order. `arguments` are the filter's arguments as the admin wrote them in the criteria.
   * The host passes candidates in batches; the answer for a company must not depend on the
   * other companies of the batch.
   */
  export function matches(arguments: Array<Field>, candidates: Array<Company>): Array<boolean>;
  export type Company = import('cs:plugin/types@0.1.0').Company;
  export type Field = import('cs:plugin/types@0.1.0').Field;
  export type PluginError = import('cs:plugin/types@0.1.0').PluginError;
}
