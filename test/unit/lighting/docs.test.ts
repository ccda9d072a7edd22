import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PresenceGroup } from '../../../controller/lighting/presence';

describe('docs/lighting.md', () => {
  it('shows the presence state diagram exactly as typescript-fsm generates it', () => {
    const doc = readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'lighting.md'), 'utf8');
    expect(doc).toContain('```mermaid\n' + PresenceGroup.mermaid() + '\n```');
  });
});
