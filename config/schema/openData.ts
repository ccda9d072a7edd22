import { z } from 'zod';
import { Id } from './common';

/**
 * Open data (loi pour une République numérique): datasets a commune chooses to publish, aggregated per
 * day, with their metadata. What a dataset may contain is fixed by its `source` in
 * controller/opendata/datasets.ts, never by this file: the configuration chooses among sources, it
 * cannot name a measurement, a tag or a field.
 */

export const OPEN_DATA_SOURCES = ['building-energy', 'lighting-zones', 'environment'] as const;

/** Licences of the open data of French public bodies (décret 2017-638): Licence Ouverte 2.0, or ODbL. */
export const OPEN_DATA_LICENCES = ['licence-ouverte-2.0', 'odbl-1.0'] as const;

export const OPEN_DATA_FREQUENCIES = ['daily', 'weekly', 'monthly'] as const;

const Quantity = z.string().regex(/^[a-z][a-z0-9_]*$/, { message: 'must be a quantity in snake_case' });

export const OpenDataSet = z.strictObject({
  id: Id.describe('Its file names: /opendata/<id>.csv and /opendata/<id>.json.'),
  title: z.string().min(1).max(200),
  description: z.string().min(1).max(4000),
  source: z
    .enum(OPEN_DATA_SOURCES)
    .describe(
      'building-energy: consumption per building, meter kind and day; lighting-zones: energy and burning hours per lighting zone and day; environment: daily mean, min and max of sensor quantities per site.',
    ),
  licence: z.enum(OPEN_DATA_LICENCES),
  frequency: z
    .enum(OPEN_DATA_FREQUENCIES)
    .default('daily')
    .describe('How often the publisher updates it (DCAT accrualPeriodicity).'),
  keywords: z.array(z.string().min(1).max(60)).max(20).default([]),
  spatial: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe("Spatial coverage as written in the catalogue; default: the communes' names and INSEE codes."),
  communes: z.array(Id).default([]).describe('Communes whose data it holds; empty: every commune.'),
  quantities: z
    .array(Quantity)
    .default([])
    .describe(
      'building-energy: meter kinds (electricity, gas…); environment: sensor quantities. Empty: all.',
    ),
  days: z.number().int().min(1).max(3660).default(365).describe('Complete days published, up to yesterday.'),
});

export const OpenDataSection = z
  .strictObject({
    publisher: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .describe('Who publishes, in the catalogue; default: site.name.'),
    base_url: z
      .string()
      .regex(/^https?:\/\/[^/]+/)
      .optional()
      .describe(
        "Public address of the service, for the catalogue's links; default: the address the request came to.",
      ),
    datasets: z.array(OpenDataSet).default([]),
  })
  .default({ datasets: [] })
  .describe('Open data published without authentication on /opendata (docs/exports.md).');
