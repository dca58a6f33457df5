/// <reference path="./cs-plugin-types.d.ts" />
declare module 'cs:plugin/metadata@0.1.0' {
  /**
   * Describes the plugin: its name, version, the capabilities it requests, the configuration
   * keys it reads and the fields it reads. The host calls it when the plugin is installed.
   */
  export function describe(): PluginInfo;
  export type PluginInfo = import('cs:plugin/types@0.1.0').PluginInfo;
}
