import { ScopedVars } from '@grafana/data';
import { TemplateSrv } from '@grafana/runtime';

/** A template variable as the fake holds it: current value(s), options, custom all value. */
export interface FakeVariable {
  name: string;
  current: string | string[];
  options?: string[];
  allValue?: string;
}

/**
 * A TemplateSrv with Grafana's semantics for what the datasource uses: `$name`, `${name}`, `${name:format}`
 * and `[[name]]`; scoped variables win; an All selection ("$__all") becomes every option's value or the
 * custom all value (unformatted); multi values are formatted as a glob `{a,b}` by default and as a JSON array
 * with the `json` format.
 */
export function fakeTemplateSrv(vars: FakeVariable[]): TemplateSrv {
  const re = /\$(\w+)|\[\[(\w+)(?::(\w+))?\]\]|\$\{(\w+)(?::(\w+))?\}/g;
  const find = (name: string) => vars.find((v) => v.name === name);
  const srv = {
    getVariables: () =>
      vars.map((v) => ({
        name: v.name,
        type: 'query',
        multi: Array.isArray(v.current),
        includeAll: true,
        allValue: v.allValue ?? null,
        current: { value: v.current, text: v.current },
        options: (v.options ?? []).map((o) => ({ value: o, text: o, selected: false })),
      })),
    containsTemplate: (target?: string) => {
      if (!target) {
        return false;
      }
      for (const m of target.matchAll(re)) {
        if (find(m[1] || m[2] || m[4])) {
          return true;
        }
      }
      return false;
    },
    replace: (target?: string, scopedVars?: ScopedVars, format?: string | Function) => {
      if (!target) {
        return target ?? '';
      }
      return target.replace(re, (match, n1, n2, f2, n4, f4) => {
        const name = n1 || n2 || n4;
        const fmt = f2 || f4 || format;
        const scoped = scopedVars?.[name];
        let value: string | string[];
        if (scoped) {
          value = scoped.value;
        } else {
          const v = find(name);
          if (!v) {
            return match;
          }
          value = v.current;
          const isAll = Array.isArray(value) ? value.includes('$__all') : value === '$__all';
          if (isAll) {
            if (v.allValue) {
              return v.allValue;
            }
            value = v.options ?? [];
          }
        }
        if (typeof fmt === 'function') {
          return fmt(value);
        }
        if (fmt === 'json') {
          return JSON.stringify(value);
        }
        if (Array.isArray(value)) {
          return value.length === 1 ? value[0] : `{${value.join(',')}}`;
        }
        return value;
      });
    },
    updateTimeRange: () => {},
  };
  return srv as unknown as TemplateSrv;
}
