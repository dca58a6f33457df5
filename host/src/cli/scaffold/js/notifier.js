// {{name}}: a notifier. It runs when a success plan is shared and decides which notifications
// go out.

import { defineMetadata, defineNotifier, host, optionalKey } from '@cs-host/plugin-sdk';

export const metadata = defineMetadata({
  name: '{{name}}',
  version: '0.1.0',
  description: "Tags share emails with a prefix and lists the plan's visible objectives",
  reads: [],
  config: [optionalKey('prefix', 'Put before every subject', '[Success plan]')],
});

export const notifier = defineNotifier((event, planned) => {
  const prefix = host.config('prefix') ?? '';
  const objectives = event.visibleObjectives.map((o) => `- ${o.name}`);
  // Keep the planned notifications (they carry `{link}`, which the host replaces with each
  // recipient's own link), and change their subject and body.
  return planned.map((n) => ({
    ...n,
    subject: `${prefix} ${n.subject}`,
    body: objectives.length === 0 ? n.body : `${n.body}\n\nObjectives:\n${objectives.join('\n')}`,
  }));
});
