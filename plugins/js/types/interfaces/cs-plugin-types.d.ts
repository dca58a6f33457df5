declare module 'cs:plugin/types@0.1.0' {
  /**
   * A calendar date, without a time of day or a time zone.
   */
  export interface Date {
    /**
     * The year, for example 2026.
     */
    year: number,
    /**
     * The month, 1 to 12.
     */
    month: number,
    /**
     * The day of the month, 1 to 31.
     */
    day: number,
  }
  /**
   * The value of one field of a record.
   */
  export type FieldValue = FieldValueNull | FieldValueText | FieldValueInteger | FieldValueNumber | FieldValueBoolean | FieldValueDate;
  /**
   * The field holds no value.
   */
  export interface FieldValueNull {
    tag: 'null',
  }
  /**
   * Text, as UTF-8.
   */
  export interface FieldValueText {
    tag: 'text',
    val: string,
  }
  /**
   * A whole number.
   */
  export interface FieldValueInteger {
    tag: 'integer',
    val: bigint,
  }
  /**
   * A number with a fractional part, such as an amount of money.
   */
  export interface FieldValueNumber {
    tag: 'number',
    val: number,
  }
  /**
   * True or false.
   */
  export interface FieldValueBoolean {
    tag: 'boolean',
    val: boolean,
  }
  /**
   * A calendar date.
   */
  export interface FieldValueDate {
    tag: 'date',
    val: Date,
  }
  /**
   * Where a text value lies in a field mapper's row's `text`: a range of bytes.
   */
  export interface Span {
    /**
     * The offset of the value's first byte.
     */
    offset: number,
    /**
     * The value's length in bytes.
     */
    len: number,
  }
  /**
   * A value of a field mapper's row. Like `field-value`, except that text is a span of the row's `text`:
   * all the text of a row crosses the boundary as one string rather than one per field,
   * which saves a guest allocation and a copy per field.
   */
  export type Cell = CellNull | CellText | CellInteger | CellNumber | CellBoolean | CellDate;
  /**
   * The field holds no value.
   */
  export interface CellNull {
    tag: 'null',
  }
  /**
   * Text: this span of the row's `text`, on UTF-8 character boundaries.
   */
  export interface CellText {
    tag: 'text',
    val: Span,
  }
  /**
   * A whole number.
   */
  export interface CellInteger {
    tag: 'integer',
    val: bigint,
  }
  /**
   * A number with a fractional part.
   */
  export interface CellNumber {
    tag: 'number',
    val: number,
  }
  /**
   * True or false.
   */
  export interface CellBoolean {
    tag: 'boolean',
    val: boolean,
  }
  /**
   * A calendar date.
   */
  export interface CellDate {
    tag: 'date',
    val: Date,
  }
  /**
   * A new value for a field a field mapper's row carries.
   */
  export interface Change {
    /**
     * The field's position among the fields named in `begin`, counting from 0.
     */
    index: number,
    /**
     * The field's new value; `null` clears the field.
     */
    value: FieldValue,
  }
  /**
   * A named field: a standard field such as `industry` or `arr`, or a tenant's custom field.
   */
  export interface Field {
    /**
     * The field's name as the tenant's field schema spells it (lower case, `snake_case`).
     */
    name: string,
    /**
     * The field's value.
     */
    value: FieldValue,
  }
  /**
   * What a field mapper changed in a row. Only changes cross the boundary: fields not listed keep
   * their value.
   */
  export interface Changes {
    /**
     * New values of fields the row carries, by position.
     */
    changed: Array<Change>,
    /**
     * Fields the row does not carry, by name, with their values.
     */
    added: Array<Field>,
  }
  /**
   * How the platform manages a company.
   * # Variants
   * 
   * ## `"customer"`
   * 
   * A customer company: the tenant's own customer, or a customer managed through a partner.
   * ## `"partner"`
   * 
   * A partner company: a third party that manages customers on the tenant's behalf.
   */
  export type ManagedAs = 'customer' | 'partner';
  /**
   * A company record, as a plugin sees it.
   */
  export interface Company {
    /**
     * The company's id, unique within the tenant.
     */
    id: string,
    /**
     * The company's name.
     */
    name: string,
    /**
     * Whether the company is a customer or a partner.
     */
    managedAs: ManagedAs,
    /**
     * The id of the partner company that manages this company, if one does. A company is
     * managed by at most one partner.
     */
    managedBy?: string,
    /**
     * The company's other fields. Only the fields the plugin declared in
     * `plugin-info.reads` are present; a field with no value is absent or `null`.
     */
    fields: Array<Field>,
  }
  /**
   * The records a partner's users may access.
   * # Variants
   * 
   * ## `"company-records"`
   * 
   * Company records only.
   * ## `"relationship-records"`
   * 
   * Relationship records only.
   * ## `"both"`
   * 
   * Both company and relationship records.
   */
  export type AccessScope = 'company-records' | 'relationship-records' | 'both';
  /**
   * A partner: a company tagged as a partner, and the records its users may access.
   */
  export interface Partner {
    /**
     * The partner's company record (`managed-as` is `partner`).
     */
    company: Company,
    /**
     * What the partner's users may access.
     */
    scope: AccessScope,
  }
  /**
   * Who a success plan was shared with.
   * # Variants
   * 
   * ## `"users"`
   * 
   * Internal users of the tenant.
   * ## `"contacts"`
   * 
   * External contacts of the customer.
   */
  export type Audience = 'users' | 'contacts';
  /**
   * One recipient of a shared success plan.
   */
  export interface Recipient {
    /**
     * The recipient's email address.
     */
    email: string,
    /**
     * The recipient's display name.
     */
    name: string,
    /**
     * True for an external contact, false for an internal user.
     */
    external: boolean,
  }
  /**
   * An objective of a success plan, as the recipients of a share may see it.
   */
  export interface Objective {
    /**
     * The objective's id.
     */
    id: string,
    /**
     * The objective's name.
     */
    name: string,
    /**
     * The objective's status, for example `open` or `done`.
     */
    status: string,
    /**
     * When the objective is due, if it has a due date.
     */
    dueDate?: Date,
  }
  /**
   * What happened when a CSM shared a success plan: the *plan shared* hook's event.
   */
  export interface ShareEvent {
    /**
     * The plan's id.
     */
    planId: string,
    /**
     * The plan's name.
     */
    planName: string,
    /**
     * The id of the customer company the plan belongs to.
     */
    customerId: string,
    /**
     * The name of that customer.
     */
    customerName: string,
    /**
     * Whether the plan went to internal users or external contacts.
     */
    audience: Audience,
    /**
     * Everyone the plan was shared with. Each has a link of their own.
     */
    recipients: Array<Recipient>,
    /**
     * The objectives the recipients may see. External contacts only see objectives marked
     * for external sharing; internal users see all.
     */
    visibleObjectives: Array<Objective>,
    /**
     * Whether the shared plan includes its tasks.
     */
    includeTasks: boolean,
    /**
     * The subject the CSM chose; by default "<plan name> for <customer>".
     */
    subject: string,
    /**
     * The CSM's note to the recipients, if any.
     */
    note?: string,
    /**
     * The email address of the CSM who shared the plan.
     */
    sharedBy: string,
    /**
     * When the links stop working, in RFC 3339 (UTC), if they expire.
     */
    linkExpiresAt?: string,
  }
  /**
   * Where a notification is delivered.
   * # Variants
   * 
   * ## `"email"`
   * 
   * An email to the recipient's address.
   * ## `"in-app"`
   * 
   * A message inside the platform, for internal users.
   */
  export type Channel = 'email' | 'in-app';
  /**
   * A message the host should send.
   * 
   * In a notification for a shared plan, the host replaces the text `{link}` in the subject or
   * body with the recipient's own link. A plugin never sees the link itself.
   */
  export interface Notification {
    /**
     * The delivery channel.
     */
    channel: Channel,
    /**
     * The recipient's email address.
     */
    recipient: string,
    /**
     * The subject line.
     */
    subject: string,
    /**
     * The body, as plain text.
     */
    body: string,
  }
  /**
   * The kinds of call to action (CTA).
   * # Variants
   * 
   * ## `"risk"`
   * 
   * The customer may churn.
   * ## `"expansion"`
   * 
   * A chance to sell more.
   * ## `"lifecycle"`
   * 
   * A step of the customer's lifecycle, such as onboarding.
   * ## `"activity"`
   * 
   * A piece of work to do, such as a hand-off.
   * ## `"objective"`
   * 
   * Work towards a success-plan objective.
   */
  export type CtaType = 'risk' | 'expansion' | 'lifecycle' | 'activity' | 'objective';
  /**
   * How urgent a CTA is.
   * # Variants
   * 
   * ## `"low"`
   * 
   * Can wait.
   * ## `"medium"`
   * 
   * The default.
   * ## `"high"`
   * 
   * Do it first.
   */
  export type Priority = 'low' | 'medium' | 'high';
  /**
   * A call to action the host should open.
   */
  export interface Cta {
    /**
     * The kind of CTA.
     */
    kind: CtaType,
    /**
     * The CTA's name, for example "Partner onboarding".
     */
    name: string,
    /**
     * How urgent it is.
     */
    priority: Priority,
    /**
     * Days from now until it is due, if it has a due date.
     */
    dueInDays?: number,
  }
  /**
   * Something a lifecycle plugin asks the host to do. The host validates every action before it
   * applies it, and applies none of a plugin's actions if one of them is invalid.
   */
  export type LifecycleAction = LifecycleActionSetField | LifecycleActionOpenCta | LifecycleActionNotify;
  /**
   * Set a field of the partner's company record. The field must exist in the tenant's
   * field schema and the value must fit its type.
   */
  export interface LifecycleActionSetField {
    tag: 'set-field',
    val: Field,
  }
  /**
   * Open a CTA on the partner's company.
   */
  export interface LifecycleActionOpenCta {
    tag: 'open-cta',
    val: Cta,
  }
  /**
   * Send a notification.
   */
  export interface LifecycleActionNotify {
    tag: 'notify',
    val: Notification,
  }
  /**
   * An error a plugin reports on purpose, as opposed to a crash.
   */
  export interface PluginError {
    /**
     * A short machine-readable code, such as `bad-argument`.
     */
    code: string,
    /**
     * What went wrong, for a person to read.
     */
    message: string,
  }
  /**
   * A host capability a plugin may request. The plugin only gets it if it requested it in
   * `plugin-info.capabilities` and the tenant's admin granted it.
   * # Variants
   * 
   * ## `"read-companies"`
   * 
   * Look up the tenant's company records with `host.company-by-id` and
   * `host.company-by-name`.
   */
  export type Capability = 'read-companies';
  /**
   * A configuration key a plugin reads with `host.config`.
   */
  export interface ConfigKey {
    /**
     * The key, for example `regions`.
     */
    name: string,
    /**
     * What the key means, for the admin who sets it.
     */
    description: string,
    /**
     * The value used when the admin sets none.
     */
    defaultValue?: string,
    /**
     * Whether the admin must set a value to enable the plugin. A key with a default is
     * never required.
     */
    required: boolean,
  }
  /**
   * What a plugin says about itself. The host reads it once, when the plugin is installed.
   */
  export interface PluginInfo {
    /**
     * The plugin's name: lower case letters, digits and `-`, for example `normalize-partner`.
     */
    name: string,
    /**
     * The plugin's version, in semantic versioning, for example `1.2.0`.
     */
    version: string,
    /**
     * One line on what the plugin does.
     */
    description: string,
    /**
     * The capabilities the plugin asks for.
     */
    capabilities: Array<Capability>,
    /**
     * The configuration keys the plugin reads.
     */
    config: Array<ConfigKey>,
    /**
     * The fields the plugin reads. The host passes only these fields to the plugin, which
     * keeps each call cheap. `["*"]` means every field; an empty list means none.
     */
    reads: Array<string>,
    /**
     * Whether a field mapper reads the CSV row's source columns as well as the mapped
     * fields. The host passes the source columns only when this is true.
     */
    readsSource: boolean,
  }
}
