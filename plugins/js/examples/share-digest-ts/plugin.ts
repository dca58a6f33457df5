// share-digest-ts: the `share-digest` notifier, in TypeScript.
//
// Each recipient gets one notification with a digest of the plan: its visible objectives with
// their status and due date, the sharer's note, and `{link}`, which the host replaces with the
// recipient's own link. Contacts get an email, internal users an in-app message. A share with no
// visible objective sends nothing at all.

import {
  defineMetadata,
  defineNotifier,
  email,
  inApp,
  type Date,
  type Notification,
  type Objective,
  type ShareEvent,
} from '@cs-host/plugin-sdk';

export const metadata = defineMetadata({
  name: 'share-digest-ts',
  version: '0.1.0',
  description: "Sends a digest of a shared plan's objectives: email to contacts, in-app to users",
  reads: [],
});

export const notifier = defineNotifier((event: ShareEvent): Notification[] => {
  if (event.visibleObjectives.length === 0) return [];
  const body = digest(event);
  return event.recipients.map((r) =>
    r.external ? email(r.email, event.subject, body) : inApp(r.email, event.subject, body),
  );
});

function digest(event: ShareEvent): string {
  const lines = [
    `Success plan: ${event.planName}`,
    `Customer: ${event.customerName}`,
    '',
    'Objectives:',
    ...event.visibleObjectives.map(objectiveLine),
  ];
  const note = event.note?.trim();
  if (note) lines.push('', `Note from ${event.sharedBy}:`, note);
  lines.push('', 'Open the plan: {link}');
  if (event.linkExpiresAt !== undefined) lines.push(`The link expires at ${event.linkExpiresAt}.`);
  return lines.join('\n');
}

function objectiveLine(objective: Objective): string {
  return objective.dueDate === undefined
    ? `- ${objective.name} (${objective.status})`
    : `- ${objective.name} (${objective.status}, due ${isoDate(objective.dueDate)})`;
}

function isoDate(date: Date): string {
  const pad = (n: number, width: number) => String(n).padStart(width, '0');
  return `${pad(date.year, 4)}-${pad(date.month, 2)}-${pad(date.day, 2)}`;
}
