/// <reference path="./cs-plugin-types.d.ts" />
declare module 'cs:plugin/notifier@0.1.0' {
  /**
   * Returns the notifications to send for this share, replacing `planned`.
   * 
   * `planned` holds what would go out without this plugin: the host's default email to each
   * recipient, or the output of the notifier that ran before this one. Return it unchanged to
   * keep it, return other notifications to replace it, or return an empty list to send
   * nothing.
   */
  export function onPlanShared(event: ShareEvent, planned: Array<Notification>): Array<Notification>;
  export type ShareEvent = import('cs:plugin/types@0.1.0').ShareEvent;
  export type Notification = import('cs:plugin/types@0.1.0').Notification;
  export type PluginError = import('cs:plugin/types@0.1.0').PluginError;
}
