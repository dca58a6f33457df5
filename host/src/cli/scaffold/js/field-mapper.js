// {{name}}: a field mapper. It runs on each row of a CSV import, after the admin's column
// mapping and before the row is checked against the field schema and written.

import { defineFieldMapper, defineMetadata, host, optionalKey, reject, skip } from '@cs-host/plugin-sdk';

export const metadata = defineMetadata({
  name: '{{name}}',
  version: '0.1.0',
  description: 'Trims company names, skips test rows and sets the region from the country',
  // Only these fields cross into the plugin: fewer fields, cheaper calls.
  reads: ['name', 'country', 'region'],
  config: [
    optionalKey(
      'regions',
      'Country code to region, as CODE=Region pairs separated by commas',
      'DE=EMEA,FR=EMEA,GB=EMEA,US=North America,JP=APAC',
    ),
  ],
});

export const fieldMapper = defineFieldMapper((row) => {
  const name = row.text('name')?.trim();
  // A row error: the import reports it, naming the field, and writes nothing.
  if (name === undefined) return reject('name', 'the company has no name');
  // A skipped row is reported as skipped, not failed.
  if (name.toLowerCase() === 'test') return skip('a test row');
  row.set('name', name);
  const country = row.text('country')?.toUpperCase();
  if (country !== undefined) {
    const region = regionOf(host.config('regions') ?? '', country);
    if (region === undefined) host.debug(`row ${row.number}: no region for \`${country}\``);
    else row.set('region', region);
  }
  return undefined; // keep the row, with the fields set above
});

function regionOf(regions, code) {
  for (const pair of regions.split(',')) {
    const [key, region] = pair.split('=');
    if (region !== undefined && key.trim() === code) return region.trim();
  }
  return undefined;
}
