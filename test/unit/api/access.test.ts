import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  allows,
  endpointsTableMarkdown,
  permissionsOf,
  rolesTableMarkdown,
} from '../../../controller/http/access';

describe('access', () => {
  it('refuses a permission outside the role, naming the roles that have it', () => {
    expect(allows({ role: 'viewer', communes: ['*'] }, 'override')).toEqual({
      allowed: false,
      reason: "role 'viewer' may not use 'override' (allowed: admin, lighting-manager)",
    });
    expect(allows({ role: 'emergency', communes: ['metz'] }, 'relight')).toEqual({ allowed: true });
  });

  it('keeps territory-wide permissions for tokens whose communes are all', () => {
    expect(allows({ role: 'admin', communes: ['metz', 'woippy'] }, 'metrics:read').allowed).toBe(false);
    expect(allows({ role: 'viewer', communes: ['metz', '*'] }, 'metrics:read').allowed).toBe(true);
    expect(permissionsOf({ role: 'energy-manager', communes: ['metz'] })).toEqual([
      'lighting:read',
      'programs:read',
      'energy:read',
      'alerts:read',
      'alerts:acknowledge',
      'reports:read',
      'exports:read',
    ]);
  });

  it('is what docs/api.md shows', () => {
    const doc = readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'api.md'), 'utf8');
    expect(normalized(doc)).toContain(normalized(rolesTableMarkdown()));
    expect(normalized(doc)).toContain(normalized(endpointsTableMarkdown()));
  });
});

/** Table cells without the padding and dash counts a formatter changes. */
function normalized(markdown: string): string {
  return markdown
    .split('\n')
    .map((line) =>
      line.startsWith('|')
        ? line
            .split('|')
            .map((cell) => cell.trim().replace(/^(:?)-+(:?)$/, '$1-$2'))
            .join('|')
        : line,
    )
    .join('\n');
}
