/// <reference path="./cs-plugin-types.d.ts" />
declare module 'cs:plugin/field-mapper@0.1.0' {
  /**
   * Starts an import, before its first row.
   * 
   * `columns` are the file's column names (empty unless the plugin set `reads-source`).
   * `fields` are the names of the fields every following row carries, in that order: the
   * mapped fields the plugin declared in `plugin-info.reads`.
   */
  export function begin(columns: Array<string>, fields: Array<string>): void;
  /**
   * Maps one row.
   */
  export function mapRow(row: Row): RowOutcome;
  export type Cell = import('cs:plugin/types@0.1.0').Cell;
  export type Changes = import('cs:plugin/types@0.1.0').Changes;
  /**
   * One row of the file, after the admin's column mapping.
   */
  export interface Row {
    /**
     * The row's data row number: 1 for the first row after the header, as the import's
     * report counts rows. Not a line number: a quoted value may span lines.
     */
    number: bigint,
    /**
     * The row's source values, one per column named in `begin` (empty unless the plugin
     * set `reads-source`).
     */
    source: Array<string>,
    /**
     * The text of the row's text values, one after the other.
     */
    text: string,
    /**
     * The row's mapped values, one per field named in `begin`, in that order.
     */
    values: Array<Cell>,
  }
  /**
   * A row the plugin refuses: the import reports it and does not write it.
   */
  export interface RowError {
    /**
     * The field at fault. The host names the source column it was mapped from.
     */
    field: string,
    /**
     * What is wrong, for the admin to read.
     */
    message: string,
  }
  /**
   * What becomes of a row.
   */
  export type RowOutcome = RowOutcomeKeep | RowOutcomeSkip | RowOutcomeReject;
  /**
   * Keep the row, with these changes. No changes keeps the row as it is.
   */
  export interface RowOutcomeKeep {
    tag: 'keep',
    val: Changes,
  }
  /**
   * Leave the row out, for this reason. It is reported as skipped, not failed.
   */
  export interface RowOutcomeSkip {
    tag: 'skip',
    val: string,
  }
  /**
   * Refuse the row: it is reported as failed.
   */
  export interface RowOutcomeReject {
    tag: 'reject',
    val: RowError,
  }
}
