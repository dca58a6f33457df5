/// <reference path="./cs-plugin-types.d.ts" />
declare module 'cs:plugin/host@0.1.0' {
  /**
   * Writes a line to the plugin's log. The host keeps a bounded amount of log per call and
   * drops lines beyond it.
   */
  export function log(level: LogLevel, message: string): void;
  /**
   * The tenant's value for one of the plugin's configuration keys, or the key's declared
   * default when the admin set none, or `none` when neither exists.
   */
  export function config(key: string): string | undefined;
  /**
   * The tenant's company with this id, or `none` if the tenant has no such company. Needs the
   * `read-companies` capability.
   */
  export function companyById(id: string): Company | undefined;
  /**
   * The tenant's company with exactly this name, or `none`. Needs the `read-companies`
   * capability.
   */
  export function companyByName(name: string): Company | undefined;
  export type Company = import('cs:plugin/types@0.1.0').Company;
  /**
   * How important a log line is.
   * # Variants
   * 
   * ## `"trace"`
   * 
   * Step-by-step detail.
   * ## `"debug"`
   * 
   * Detail that helps find a problem.
   * ## `"info"`
   * 
   * Something normal happened.
   * ## `"warn"`
   * 
   * Something unusual happened, but the plugin carried on.
   * ## `"error"`
   * 
   * Something failed.
   * ## `"fatal"`
   * 
   * The plugin is about to stop: the message says why. The host keeps the last such
   * message as the reason of the crash that follows (the SDK sends panic messages here).
   */
  export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  /**
   * Why a look-up gave no answer.
   * # Variants
   * 
   * ## `"not-granted"`
   * 
   * The plugin did not request the capability, or the tenant's admin did not grant it.
   * The host records the attempt.
   */
  export type LookupError = 'not-granted';
}
