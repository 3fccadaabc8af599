/**
 * The console's one stylesheet, served from /assets/console.css (CSP `style-src 'self'`: no inline styles, no
 * CDN, works offline). Narrow screens first; tables scroll sideways inside their card.
 */
export const CONSOLE_CSS = `
:root { color-scheme: light dark; --fg: #1b1f24; --bg: #f6f7f9; --card: #fff; --muted: #5f6b7a; --line: #d9dee5;
  --accent: #0b63c5; --danger: #b42318; --tag: #eef2f7; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ee; --bg: #14171c; --card: #1d2128; --muted: #9aa5b3;
  --line: #303640; --accent: #6cb0ff; --danger: #ff7b72; --tag: #2a3039; } }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
header.top { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; text-decoration: none; color: var(--fg); }
header nav { display: flex; gap: 1rem; }
header .who { margin-left: auto; display: flex; gap: .5rem; align-items: center; color: var(--muted); }
main { padding: 1rem; max-width: 1200px; margin: 0 auto; }
h1 { font-size: 1.35rem; margin: .2rem 0 1rem; word-break: break-all; }
h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
h2 small, td small { color: var(--muted); font-weight: normal; }
h3 { font-size: .9rem; margin: .8rem 0 .2rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .9rem; margin-bottom: 1rem; }
.muted { color: var(--muted); }
.facts { display: flex; flex-wrap: wrap; gap: .4rem 1.5rem; margin: .4rem 0; }
.facts dt { color: var(--muted); font-size: .8rem; }
.facts dd { margin: 0; word-break: break-all; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: var(--card); }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: .8rem; color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.nowrap { white-space: nowrap; }
.mono, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
.clip { max-width: 24rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
pre.text { white-space: pre-wrap; word-break: break-all; background: var(--tag); padding: .6rem; border-radius: 6px; margin: 0; }
.tag { background: var(--tag); border-radius: 4px; padding: .05rem .35rem; font-size: .85rem; }
.tag.failed, .tag.started { color: var(--danger); }
.chips { list-style: none; display: flex; flex-wrap: wrap; gap: .4rem; padding: 0; margin: 0; }
.chip { display: inline-block; border: 1px solid var(--line); border-radius: 999px; padding: .15rem .6rem; text-decoration: none; }
.chip.on { border-color: var(--accent); }
form.filters { display: grid; grid-template-columns: repeat(auto-fill, minmax(9rem, 1fr)); gap: .6rem; align-items: end; }
label { display: flex; flex-direction: column; gap: .2rem; font-size: .85rem; color: var(--muted); }
input, button { font: inherit; padding: .4rem .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); min-height: 2.2rem; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.danger { background: var(--danger); border-color: var(--danger); }
button.link { background: none; border: none; color: var(--accent); padding: 0; min-height: 0; }
.buttons { display: flex; gap: .8rem; align-items: center; margin-top: .6rem; }
.actions form { display: inline-block; margin: .2rem .6rem .2rem 0; }
.error { border: 1px solid var(--danger); color: var(--danger); border-radius: 8px; padding: .2rem .8rem; margin-bottom: 1rem; }
.warn { color: var(--danger); }
.paging { display: flex; gap: 1rem; margin: .6rem 0 1rem; }
.spark { vertical-align: middle; color: var(--accent); }
form.login { max-width: 26rem; }
@media (max-width: 640px) { main { padding: .6rem; } .clip { max-width: 12rem; } th, td { padding: .35rem; } }
`;
