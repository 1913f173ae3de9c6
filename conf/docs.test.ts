import * as fs from 'node:fs';
import * as path from 'node:path';
import { parametersMarkdown } from './docs';

describe('docs/parameters.md', () => {
  it('is what the generator prints (run `node dist/bin/tsvma.js params --markdown > docs/parameters.md`)', () => {
    const committed = fs.readFileSync(path.join(__dirname, '..', 'docs', 'parameters.md'), 'utf8');
    expect(committed).toBe(parametersMarkdown());
  });
});
