/// <reference path="./cs-plugin-types.d.ts" />
declare module 'cs:plugin/lifecycle@0.1.0' {
  /**
   * Returns the actions the host should take for a new partner. The host validates them and
   * applies them all, or none.
   */
  export function onPartnerCreated(partner: Partner): Array<LifecycleAction>;
  export type Partner = import('cs:plugin/types@0.1.0').Partner;
  export type LifecycleAction = import('cs:plugin/types@0.1.0').LifecycleAction;
  export type PluginError = import('cs:plugin/types@0.1.0').PluginError;
}
