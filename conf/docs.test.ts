import * as fs from 'node:fs';
import * as path from 'node:path';
import { parametersMarkdown } from './docs';
import { params } from './params';
import { profiles } from './profiles';

describe('docs/parameters.md', () => {
  it('is what the generator prints (rewrite it with `npm run build && npm run docs:params`)', () => {
    const committed = fs.readFileSync(path.join(__dirname, '..', 'docs', 'parameters.md'), 'utf8');
    expect(committed).toBe(parametersMarkdown());
  });

  it('has one row per parameter and per profile, in sections for TSVMA_*, VMA_* and VMA_SPEC', () => {
    const md = parametersMarkdown();
    const sections = md.split(/^## /m).slice(1);
    expect(sections.map((s) => s.split('\n')[0])).toEqual(["tsvma's own variables", 'VMA parameters', 'VMA_SPEC profiles']);
    for (const p of params) {
      const section = p.env.startsWith('TSVMA_') ? sections[0] : sections[1];
      expect(section.split('\n').filter((l) => l.startsWith(`| \`${p.env}\` |`))).toHaveLength(1);
    }
    for (const pr of profiles) expect(sections[2]).toContain(`| \`${pr.name}\` |`);
    // Every table row has the header's number of cells (no unescaped '|').
    for (const s of sections) {
      const rows = s.split('\n').filter((l) => l.startsWith('|'));
      const cells = (l: string): number => l.replace(/\\\|/g, '').split('|').length;
      for (const l of rows) expect(cells(l)).toBe(cells(rows[0]));
    }
  });
});
