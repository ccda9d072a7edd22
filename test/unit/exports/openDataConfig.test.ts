import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatIssue } from '../../../config/issues';
import { parseConfig } from '../../../config/load';
import { DATASET_SOURCES, PUBLISHED_TAGS } from '../../../controller/opendata/datasets';

const FIXTURE = readFileSync(path.join(__dirname, '../../fixtures/config/exports.yaml'), 'utf8');

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, 'site.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map(formatIssue);
    throw error;
  }
  return [];
}

describe('open_data configuration', () => {
  it('is valid as the fixture writes it', () => {
    expect(issuesOf(FIXTURE)).toEqual([]);
  });

  it('names the line, the field and what is allowed for a wrong licence and a repeated id', () => {
    const text = FIXTURE.replace('licence: odbl-1.0', 'licence: cc-by').replace(
      'id: environnement',
      'id: energie-batiments',
    );
    const issues = issuesOf(text);
    const line = (needle: string): number => text.split('\n').findIndex((l) => l.includes(needle)) + 1;
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          new RegExp(
            `^site\\.yaml:${line('licence: cc-by')}:\\d+ open_data\\.datasets\\[1\\]\\.licence: .*licence-ouverte-2\\.0.*odbl-1\\.0`,
          ),
        ),
        expect.stringMatching(/open_data\.datasets\[2\]\.id: .*energie-batiments/),
      ]),
    );
  });

  it('refuses a commune the territory does not have', () => {
    expect(
      issuesOf(FIXTURE.replace('communes: [metz]\n      days: 5', 'communes: [woippy]\n      days: 5')),
    ).toEqual([expect.stringMatching(/open_data\.datasets\[1\]\.communes\[0\]: unknown commune 'woippy'/)]);
  });

  it('refuses a source it does not know: a measurement cannot be named from the configuration', () => {
    const issues = issuesOf(FIXTURE.replace('source: environment', 'source: event'));
    expect(issues.join('\n')).toMatch(
      /open_data\.datasets\[2\]\.source: .*building-energy.*lighting-zones.*environment/,
    );
  });
});

describe('dataset sources', () => {
  it('publish only allow-listed tags and read only telemetry measurements', () => {
    for (const source of Object.values(DATASET_SOURCES)) {
      expect(['meter', 'sensor', 'lighting']).toContain(source.measurement);
      for (const column of source.columns)
        if ('tag' in column.from) expect(PUBLISHED_TAGS).toContain(column.from.tag);
    }
  });
});
