import { z } from 'zod';
import { Id } from './common';

const IsoDate = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, { message: "must be a date 'YYYY-MM-DD'" });

/** What one commune's lighting is compared with in the monthly evaluation report. */
export const EvaluationCommune = z.strictObject({
  commune: Id,
  baseline: z
    .enum(['full-night', 'last-year'])
    .default('full-night')
    .describe(
      "Lighting baseline: full-night = rated power of every luminaire from sunset to sunrise; last-year = the lighting energy measured in the same month a year earlier. Buildings are always compared with last year's same month.",
    ),
});

/** A dated investment of the project: what it cost, and what it costs every year from then on. */
export const Investment = z.strictObject({
  id: Id,
  commune: Id.optional().describe('The commune that paid; absent: the territory as a whole.'),
  description: z
    .string()
    .min(1)
    .describe('What was bought or done: luminaires, controllers, meters, service…'),
  from: IsoDate.describe('Date in service: counted in the payback of every month from this one.'),
  capex_eur: z.number().min(0).describe('One-off cost (€, excluding VAT as the budget says it).'),
  yearly_cost_eur: z
    .number()
    .min(0)
    .default(0)
    .describe('Running costs per year from `from` on: maintenance, licences, connectivity (€).'),
});

export const EvaluationSection = z
  .strictObject({
    communes: z
      .array(EvaluationCommune)
      .default([])
      .describe('Per-commune choices; a commune not listed uses the defaults (full-night baseline).'),
    investments: z.array(Investment).default([]).describe('Capex and yearly costs, for the payback.'),
  })
  .default({ communes: [], investments: [] })
  .describe('The monthly evaluation report (docs/evaluation.md): baselines and investments.');
