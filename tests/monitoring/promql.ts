// The metric names a PromQL expression selects, and the expressions of the dashboard and rules.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { load } from 'js-yaml';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * Bare identifiers of an expression that are neither functions nor keywords: the metric names.
 * Strings, label matchers, ranges and grouping label lists are removed first.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\b(group_left|group_right)\b/g, ' ')
    .replace(/\boffset\s+-?\w+/g, ' ');
  const names = [...stripped.matchAll(/(?<![\w:.$])[a-zA-Z_][\w:]*(?![\w:])(?!\s*\()/g)].map((m) => m[0]);
  return [...new Set(names.filter((n) => !KEYWORDS.has(n.toLowerCase())))];
}

/** Grafana's interval variables as PromQL durations, so promtool can parse a panel's query. */
export function withoutGrafanaVariables(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b|\$\{__(rate_interval|interval|range)\}/g, '5m');
}

const read = (path: string) => readFileSync(fileURLToPath(new URL(`../../monitoring/${path}`, import.meta.url)), 'utf8');

export interface Expression {
  where: string;
  expr: string;
}

/** Every PromQL expression of monitoring/dashboard.json: panel targets and template variable queries. */
export function dashboardExpressions(): Expression[] {
  const dashboard = JSON.parse(read('dashboard.json')) as Json;
  const panels: Json[] = (dashboard.panels as Json[]).flatMap((p) => [p, ...((p.panels as Json[] | undefined) ?? [])]);
  const out: Expression[] = [];
  for (const panel of panels) {
    for (const target of (panel.targets as Json[] | undefined) ?? []) out.push({ where: `panel "${panel.title}" ${target.refId}`, expr: withoutGrafanaVariables(target.expr) });
  }
  for (const variable of dashboard.templating.list as Json[]) {
    if (variable.type !== 'query') continue;
    const query: string = typeof variable.query === 'string' ? variable.query : variable.query.query;
    // label_values(<selector>, <label>) is Grafana's, not PromQL: its selector is.
    const m = /^label_values\((.*),\s*\w+\)$/.exec(query.trim());
    out.push({ where: `variable ${variable.name}`, expr: m ? m[1]! : query });
  }
  return out;
}

/** Every expression of monitoring/rules.yaml. */
export function ruleExpressions(): Expression[] {
  const rules = load(read('rules.yaml')) as Json;
  return (rules.groups as Json[]).flatMap((g) => (g.rules as Json[]).map((r) => ({ where: `rule ${r.alert ?? r.record}`, expr: String(r.expr) })));
}
