import { describe, expect, it } from 'vitest';
import { escapeHtml, html, queryString, SafeHtml } from '../../../src/console/html.ts';

describe('html escaping', () => {
  it('escapes every character that can open markup or leave an attribute', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'\``)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&#96;',
    );
  });

  it('escapes interpolated values, in content and in attributes', () => {
    const evil = '"><img src=x onerror=alert(1)>';
    const out = html`<a title="${evil}">${evil}</a>`.value;
    expect(out).toBe(
      '<a title="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</a>',
    );
    expect(out).not.toContain('<img');
  });

  it('keeps nested templates and arrays of them as markup, and only them', () => {
    const rows = ['<b>', 'ok'].map((v) => html`<li>${v}</li>`);
    expect(html`<ul>${rows}</ul>`.value).toBe('<ul><li>&lt;b&gt;</li><li>ok</li></ul>');
    // A plain object that looks like SafeHtml is not trusted.
    const fake = { value: '<script>' } as unknown as string;
    expect(html`${fake}`.value).toBe('[object Object]');
    expect(html`${new SafeHtml('<br>')}`.value).toBe('<br>');
  });

  it('renders null, undefined and false as nothing, numbers as text', () => {
    expect(html`${null}${undefined}${false}${0}${true}`.value).toBe('0true');
  });

  it('builds query strings that leave out empty values and encode the rest', () => {
    expect(queryString({ reason: 'a&b', type: undefined, eventId: '' })).toBe('?reason=a%26b');
    expect(queryString({})).toBe('');
  });
});
