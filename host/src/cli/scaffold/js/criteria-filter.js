// {{name}}: a criteria filter. Admins use it in criteria-based selection as
// `plugin:{{name}} min=100000`, next to the built-in operators.

import { PluginError, defineCriteriaFilter, defineMetadata } from '@cs-host/plugin-sdk';

export const metadata = defineMetadata({
  name: '{{name}}',
  version: '0.1.0',
  description: 'Matches companies whose ARR is at least the `min` argument',
  reads: ['arr'],
});

export const criteriaFilter = defineCriteriaFilter((company, args) => {
  // `min=100000` on the command line arrives as a number, `"min": "100000"` in JSON as text:
  // Number() reads both. A bad argument is the plugin's own error, with a code.
  const min = Number(args.min);
  if (args.min === undefined || String(args.min).trim() === '' || Number.isNaN(min)) {
    throw new PluginError('bad-argument', '`min` must be a number, such as min=100000');
  }
  // `arr` is a number field; a company without a value does not match.
  const arr = company.number('arr');
  return arr !== undefined && arr >= min;
});
