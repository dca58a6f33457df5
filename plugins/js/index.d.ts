// Types of @cs-host/plugin-sdk. The contract's own types (ShareEvent, Notification, ...) are
// generated from the WIT into types/ by scripts/generate-types.mjs; this file declares the
// friendly layer over them.

/// <reference path="./types/cs-plugin.d.ts" />

import type * as contract from 'cs:plugin/types@0.1.0';

export type Date = contract.Date;
export type ShareEvent = contract.ShareEvent;
export type Notification = contract.Notification;
export type Recipient = contract.Recipient;
export type Objective = contract.Objective;
export type Capability = contract.Capability;
export type ConfigKey = contract.ConfigKey;
export type PluginInfo = contract.PluginInfo;
export type LifecycleAction = contract.LifecycleAction;
export type CtaType = contract.CtaType;
export type Priority = contract.Priority;
export type AccessScope = contract.AccessScope;
export type ManagedAs = contract.ManagedAs;
export type FieldValue = contract.FieldValue;
export type LogLevel = import('cs:plugin/host@0.1.0').LogLevel;

/** A field's value in JavaScript: null (empty), text, a number, a boolean or a date. */
export type Value = null | string | number | boolean | Date;

/** An error a plugin reports on purpose; throw it from a criteria filter, notifier or lifecycle. */
export class PluginError extends Error {
  constructor(code: string, message: string);
  readonly code: string;
  readonly payload: contract.PluginError;
}

/** Logging, configuration and look-ups. */
export const host: {
  log(level: LogLevel, message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** The tenant's value for a configuration key, or its declared default. */
  config(key: string): string | undefined;
  /** Needs the read-companies capability, granted; otherwise throws a PluginError. */
  companyById(id: string): Company | undefined;
  companyByName(name: string): Company | undefined;
};

export function date(year: number, month: number, day: number): Date;
export function fromFieldValue(value: FieldValue): Value;
export function toFieldValue(value: Value | bigint | undefined): FieldValue;

/** A company record, with its fields by name. */
export class Company {
  readonly id: string;
  readonly name: string;
  readonly managedAs: ManagedAs;
  readonly managedBy: string | undefined;
  readonly fields: Record<string, Value>;
  /** A field's value (null when empty), or undefined when the host did not pass it. */
  field(name: string): Value | undefined;
  /** A field as a number: numbers, and text that reads as one. */
  number(name: string): number | undefined;
}

export function optionalKey(name: string, description: string, defaultValue: string): ConfigKey;
export function requiredKey(name: string, description: string): ConfigKey;

/** What a plugin says about itself. */
export interface Metadata {
  name: string;
  version: string;
  description?: string;
  capabilities?: Capability[];
  config?: ConfigKey[];
  /** The fields a field mapper reads; default every field (`['*']`). */
  reads?: string[];
  /** Whether a field mapper also reads the CSV row's source columns. */
  readsSource?: boolean;
}

export function defineMetadata(info: Metadata): { describe(): PluginInfo };

/** What a field mapper returns to leave a row out or refuse it; nothing keeps it. */
export type Refusal = { tag: 'skip'; val: string } | { tag: 'reject'; val: { field: string; message: string } };
export function skip(reason: string): Refusal;
export function reject(field: string, message: string): Refusal;

/** One row of an import, after the admin's column mapping. */
export class Row {
  /** The row's data row number: 1 for the first row after the header, as the import report counts. */
  readonly number: number;
  /** The names of the fields the row carries. */
  readonly fields: readonly string[];
  /** What the rows are for, when the host says (contract 0.2.0): company, partner or relationship. */
  readonly object: 'company' | 'partner' | 'relationship' | undefined;
  get(field: string): Value | undefined;
  text(field: string): string | undefined;
  numeric(field: string): number | undefined;
  source(column: string): string | undefined;
  set(field: string, value: Value): void;
}

export function defineFieldMapper(mapRow: (row: Row) => Refusal | void | undefined): unknown;
export function defineCriteriaFilter(
  matches: (company: Company, args: Record<string, Value>) => boolean,
): unknown;
export function defineNotifier(
  onPlanShared: (event: ShareEvent, planned: Notification[]) => Notification[],
): unknown;
export function defineLifecycle(
  onPartnerCreated: (partner: { company: Company; scope: AccessScope }) => LifecycleAction[],
): unknown;

export function email(recipient: string, subject: string, body: string): Notification;
export function inApp(recipient: string, subject: string, body: string): Notification;

export const actions: {
  setField(name: string, value: Value): LifecycleAction;
  openCta(kind: CtaType, name: string, options?: { priority?: Priority; dueInDays?: number }): LifecycleAction;
  notify(notification: Notification): LifecycleAction;
};
