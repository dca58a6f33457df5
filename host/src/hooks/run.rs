//! Running the hooks: the tenant's enabled plugins of one extension point, in priority order,
//! with their failure policies, run log and circuit breaker.

use serde_json::json;

use super::*;

impl Hooks<'_> {
    /// Whether a normalised address is one of the tenant's users: the egress policy lets
    /// plugins notify them.
    fn is_user_address(&self, address: &str) -> bool {
        // A failed look-up denies: the policy never opens on an error.
        matches!(self.tenant.users().by_email(address), Ok(Some(_)))
    }

    /// The *CSV row mapped* chain for one import: fresh instances of the tenant's enabled
    /// field-mapper plugins, in priority order, each begun with these columns and fields, and
    /// told the rows' `object` under [`IMPORT_OBJECT_KEY`] (`None`: not told).
    /// The enablement is read once here: changes apply to the next operation, never this one.
    pub(crate) fn row_mappers(
        &self,
        object: Option<&str>,
        columns: &[String],
        fields: &[String],
    ) -> Result<RowMappers> {
        let mut active = self.tenant.plugins().active(ExtensionPoint::FieldMapper)?;
        if let Some(object) = object {
            for active in &mut active {
                // A plugin's own key of that name keeps its meaning.
                if active
                    .plugin
                    .manifest()
                    .config_key(IMPORT_OBJECT_KEY)
                    .is_none()
                {
                    active.context = active.context.clone().config(IMPORT_OBJECT_KEY, object);
                }
            }
        }
        let mut mappers = RowMappers {
            slots: Vec::with_capacity(active.len()),
            object: object.map(str::to_owned),
            columns: columns.to_vec(),
            fields: fields.to_vec(),
            reads_source: false,
            spare: BatchRow::default(),
            sink: None,
        };
        if active.is_empty() {
            return Ok(mappers);
        }
        mappers.sink = Some(RunLogSink::for_tenant(self.tenant));
        let clock = self.tenant.host.shared_clock();
        for active in active {
            let mut slot = Slot::new(active, ExtensionPoint::FieldMapper);
            mappers.reads_source |= slot.instance.plugin().manifest().reads_source;
            match slot.instance.begin_rows_for(object, columns, fields) {
                // A successful `begin` is not counted: the run log and the breaker count rows.
                Ok(()) => mappers.slots.push(slot),
                Err(error) => {
                    let stats = slot.instance.last_call();
                    slot.log.failure(&stats, &error, &*clock, || {
                        rows_json(object, columns, json!([]))
                    });
                    let policy = slot.policy;
                    // Keep the slot so its log is written with the others', but never call it.
                    slot.benched = true;
                    mappers.slots.push(slot);
                    if policy == FailurePolicy::FailClosed {
                        // Dropping the chain writes the run log.
                        drop(mappers);
                        return Err(Error::from(error));
                    }
                }
            }
        }
        if mappers.slots.iter().all(|slot| slot.benched) {
            // Nothing will run: write the log now and give the import an empty chain.
            if let Some(sink) = mappers.sink.take() {
                sink.write_or_warn(mappers.slots.iter_mut().map(|s| &mut s.log));
            }
            mappers.slots.clear();
        }
        Ok(mappers)
    }

    /// Runs the criteria-filter plugin `plugin` (by name; must be enabled for this tenant).
    ///
    /// A fail-closed filter's failure is an error naming the plugin; a fail-open filter that
    /// fails matches no company, so a broken filter never selects records.
    pub(crate) fn criteria_filter(
        &self,
        plugin: &str,
        arguments: &Fields,
        candidates: &[Company],
    ) -> Result<Vec<bool>> {
        let active = self.tenant.plugins().active_one(plugin)?;
        if !active
            .plugin
            .manifest()
            .implements(ExtensionPoint::CriteriaFilter)
        {
            return Err(Error::from(PluginError::new(
                plugin,
                PluginErrorKind::NotImplemented {
                    extension_point: ExtensionPoint::CriteriaFilter.interface().to_owned(),
                },
            )));
        }
        let sink = RunLogSink::for_tenant(self.tenant);
        let mut slot = Slot::new(active, ExtensionPoint::CriteriaFilter);
        let result = slot.instance.matches(arguments, candidates);
        let stats = slot.instance.last_call();
        let outcome = match result {
            Ok(answers) => {
                slot.log.success(&stats);
                Ok(answers)
            }
            Err(error) => {
                slot.log.failure(
                    &stats,
                    &error,
                    &*sink.clock,
                    || json!({"arguments": arguments, "companies": candidates}),
                );
                match slot.policy {
                    FailurePolicy::FailClosed => Err(Error::from(error)),
                    FailurePolicy::FailOpen => Ok(vec![false; candidates.len()]),
                }
            }
        };
        sink.write_or_warn([&mut slot.log]);
        outcome
    }

    /// The *plan shared* hook: the tenant's enabled notifiers in priority order, each seeing the
    /// previous one's output as `planned` (the first sees the host's default notifications).
    pub(crate) fn plan_shared(
        &self,
        event: &ShareEvent,
        planned: Vec<Notification>,
    ) -> Result<NotifyOutcome> {
        let active = self.tenant.plugins().active(ExtensionPoint::Notifier)?;
        if active.is_empty() {
            return Ok(NotifyOutcome::Send(planned));
        }
        let sink = RunLogSink::for_tenant(self.tenant);
        let mut slots: Vec<Slot> = active
            .into_iter()
            .map(|a| Slot::new(a, ExtensionPoint::Notifier))
            .collect();
        let mut planned = planned;
        let mut held = None;
        let is_user = |to: &str| self.is_user_address(to);
        for slot in &mut slots {
            let egress = Egress::for_share(event, slot.instance.limits().notifications_value());
            let result = slot
                .instance
                .on_plan_shared(event, &planned)
                .and_then(|mut sent| {
                    egress.check(slot.name(), sent.iter_mut(), &slot.egress, &is_user)?;
                    Ok(sent)
                });
            let stats = slot.instance.last_call();
            match result {
                Ok(notifications) => {
                    slot.log.success(&stats);
                    planned = notifications;
                }
                Err(error) => {
                    slot.log.failure(
                        &stats,
                        &error,
                        &*sink.clock,
                        || json!({"event": event, "planned": &planned}),
                    );
                    if slot.policy == FailurePolicy::FailClosed {
                        held = Some(error);
                        break;
                    }
                }
            }
        }
        sink.write_or_warn(slots.iter_mut().map(|s| &mut s.log));
        Ok(match held {
            Some(error) => NotifyOutcome::Held { error, planned },
            None => NotifyOutcome::Send(planned),
        })
    }

    /// The *partner created* hook: each enabled lifecycle plugin's actions, in priority order.
    ///
    /// A fail-closed plugin's failure is an error naming the plugin (the partner should not be
    /// created); a fail-open plugin that fails contributes no actions.
    pub(crate) fn partner_created(&self, partner: &Partner) -> Result<Vec<PluginActions>> {
        let active = self.tenant.plugins().active(ExtensionPoint::Lifecycle)?;
        if active.is_empty() {
            return Ok(Vec::new());
        }
        let sink = RunLogSink::for_tenant(self.tenant);
        let mut slots: Vec<Slot> = active
            .into_iter()
            .map(|a| Slot::new(a, ExtensionPoint::Lifecycle))
            .collect();
        let mut all = Vec::with_capacity(slots.len());
        let mut failed = None;
        let is_user = |to: &str| self.is_user_address(to);
        for slot in &mut slots {
            let egress = Egress::for_partner(partner, slot.instance.limits().notifications_value());
            let result = slot
                .instance
                .on_partner_created(partner)
                .and_then(|mut actions| {
                    let notes = actions.iter_mut().filter_map(|action| match action {
                        LifecycleAction::Notify(notification) => Some(notification),
                        _ => None,
                    });
                    let notes: Vec<&mut Notification> = notes.collect();
                    egress.check(slot.name(), notes.into_iter(), &slot.egress, &is_user)?;
                    Ok(actions)
                });
            let stats = slot.instance.last_call();
            match result {
                Ok(actions) => {
                    slot.log.success(&stats);
                    all.push(PluginActions {
                        plugin: slot.name().to_owned(),
                        actions,
                    });
                }
                Err(error) => {
                    slot.log
                        .failure(&stats, &error, &*sink.clock, || json!({"partner": partner}));
                    if slot.policy == FailurePolicy::FailClosed {
                        failed = Some(error);
                        break;
                    }
                }
            }
        }
        sink.write_or_warn(slots.iter_mut().map(|s| &mut s.log));
        match failed {
            Some(error) => Err(Error::from(error)),
            None => Ok(all),
        }
    }
}

impl Hooks<'_> {
    /// Runs the tenant's enabled plugins on one hook, on input in the JSON shape `cshost plugin
    /// run --input` takes, exactly as the host's own operations run them: priority order,
    /// failure policies, run log and circuit breaker included. For embedders that raise the
    /// hooks' events themselves, and for admins replaying a recorded failure against the
    /// tenant's current set-up. `criteria` needs the filter plugin's name in `filter`.
    ///
    /// The output is JSON:
    /// - `csv-row-mapped`: one `{"row", "verdict", ...}` per row, the verdict `keep` (with
    ///   `fields`), `skip` (`plugin`, `reason`), `reject` (`plugin`, `field`, `message`) or
    ///   `failed` (`error`);
    /// - `criteria`: one `{"id", "name", "matches"}` per company;
    /// - `plan-shared`: `{"send": [..]}`, or `{"held": [..], "error": {..}}`;
    /// - `partner-created`: one `{"plugin", "actions"}` per plugin.
    pub fn run(
        &self,
        hook: ExtensionPoint,
        input: serde_json::Value,
        filter: Option<&str>,
    ) -> Result<serde_json::Value> {
        self.tenant.require(Permission::ManagePlugins)?;
        match hook {
            ExtensionPoint::FieldMapper => {
                let input: RowsInput = parse_hook_input(hook, input)?;
                if let Some(object) = &input.object
                    && !IMPORT_OBJECTS.contains(&object.as_str())
                {
                    return Err(Error::new(ErrorKind::Invalid(format!(
                        "the input's object `{}` is none of {}",
                        crate::inert::inert(object),
                        IMPORT_OBJECTS.join(", ")
                    ))));
                }
                let fields = input.field_names();
                let mut chain =
                    self.row_mappers(input.object.as_deref(), &input.columns, &fields)?;
                let mut out = Vec::with_capacity(input.rows.len());
                for (i, row) in input.rows.into_iter().enumerate() {
                    let number = row.number.unwrap_or(i as u64 + 1);
                    let mut values = row.fields;
                    let verdict = if chain.is_empty() {
                        RowVerdict::Keep
                    } else {
                        chain.map_row(number, &row.source, &mut values)
                    };
                    let verdict = match verdict {
                        RowVerdict::Keep => json!({"verdict": "keep", "fields": values}),
                        RowVerdict::Skip { plugin, reason } => {
                            json!({"verdict": "skip", "plugin": plugin, "reason": reason})
                        }
                        RowVerdict::Reject {
                            plugin,
                            field,
                            message,
                        } => json!({
                            "verdict": "reject", "plugin": plugin, "field": field,
                            "message": message
                        }),
                        RowVerdict::Failed(error) => {
                            json!({"verdict": "failed", "error": error_json(&error)})
                        }
                    };
                    let mut verdict = verdict;
                    verdict["row"] = json!(number);
                    out.push(verdict);
                }
                Ok(json!(out))
            }
            ExtensionPoint::CriteriaFilter => {
                let input: CriteriaInput = parse_hook_input(hook, input)?;
                let Some(filter) = filter else {
                    return Err(Error::new(ErrorKind::Invalid(
                        "the criteria hook runs one filter plugin: name it".into(),
                    )));
                };
                let answers = self.criteria_filter(filter, &input.arguments, &input.companies)?;
                Ok(json!(
                    input
                        .companies
                        .iter()
                        .zip(answers)
                        .map(|(c, m)| json!({"id": c.id, "name": c.name, "matches": m}))
                        .collect::<Vec<_>>()
                ))
            }
            ExtensionPoint::Notifier => {
                let input: ShareInput = parse_hook_input(hook, input)?;
                Ok(match self.plan_shared(&input.event, input.planned)? {
                    NotifyOutcome::Send(sent) => json!({"send": sent}),
                    NotifyOutcome::Held { error, planned } => {
                        json!({"held": planned, "error": error_json(&error)})
                    }
                })
            }
            ExtensionPoint::Lifecycle => {
                let input: PartnerInput = parse_hook_input(hook, input)?;
                let actions = self.partner_created(&input.partner)?;
                Ok(json!(
                    actions
                        .into_iter()
                        .map(|a| json!({"plugin": a.plugin, "actions": a.actions}))
                        .collect::<Vec<_>>()
                ))
            }
        }
    }
}
