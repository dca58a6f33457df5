// {{name}}: a lifecycle plugin. It runs when a partner is created and returns actions the host
// checks and applies: set a field, open a CTA, send a notification.

import { actions, defineLifecycle, defineMetadata, email } from '@cs-host/plugin-sdk';

export const metadata = defineMetadata({
  name: '{{name}}',
  version: '0.1.0',
  description: 'Opens a kickoff CTA for each new partner and emails the partner',
  reads: ['email'],
});

export const lifecycle = defineLifecycle(({ company }) => {
  const todo = [actions.openCta('lifecycle', 'Partner kickoff', { priority: 'high', dueInDays: 7 })];
  const address = company.field('email');
  if (typeof address === 'string') {
    todo.push(
      actions.notify(
        email(address, `Welcome, ${company.name}`, 'We will be in touch this week to plan your kickoff.'),
      ),
    );
  }
  return todo;
});
