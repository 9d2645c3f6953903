import React, { useCallback, useState } from 'react';
import { SelectableValue, TimeRange } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { InlineField, MultiSelect } from '@grafana/ui';

import type { DataSource } from '../datasource';

interface Props {
  datasource: DataSource;
  /** The dimensions offered, in order. */
  dimensions: string[];
  filters: Record<string, string[]>;
  onChange: (filters: Record<string, string[]>) => void;
  range?: TimeRange;
  labelWidth?: number;
}

/** Template variables offered next to the values, as `$name`. */
export function variableOptions(): Array<SelectableValue<string>> {
  return getTemplateSrv()
    .getVariables()
    .map((v) => ({ label: `$${v.name}`, value: `$${v.name}`, description: 'template variable' }));
}

/**
 * One multi-select per dimension; its values are loaded from the backend's /dimensions resource when the
 * list opens (filtered by the other dimensions' selections) and template variables are offered too.
 */
export function DimensionFilters({ datasource, dimensions, filters, onChange, range, labelWidth = 14 }: Props) {
  const [values, setValues] = useState<Record<string, string[]>>({});
  const [loading, setLoading] = useState<string | undefined>();
  const [errors, setErrors] = useState<Record<string, string>>({});

  const load = useCallback(
    async (dim: string) => {
      setLoading(dim);
      try {
        const others = Object.fromEntries(Object.entries(filters).filter(([d]) => d !== dim));
        const vals = await datasource.getDimensionValues(dim, others, range);
        setValues((prev) => ({ ...prev, [dim]: vals }));
        setErrors((prev) => ({ ...prev, [dim]: '' }));
      } catch (err) {
        const msg = (err as { data?: { error?: string; message?: string }; message?: string }) ?? {};
        setErrors((prev) => ({ ...prev, [dim]: msg.data?.error ?? msg.data?.message ?? msg.message ?? 'failed' }));
      } finally {
        setLoading(undefined);
      }
    },
    [datasource, filters, range]
  );

  return (
    <>
      {dimensions.map((dim) => {
        const selected = filters[dim] ?? [];
        const known = values[dim] ?? [];
        const options: Array<SelectableValue<string>> = [
          ...variableOptions(),
          ...Array.from(new Set([...known, ...selected.filter((s) => !s.startsWith('$'))])).map((v) => ({ label: v, value: v })),
        ];
        return (
          <InlineField
            key={dim}
            label={dim}
            labelWidth={labelWidth}
            tooltip={`Only series with one of these ${dim} values; empty means every ${dim}.`}
            invalid={!!errors[dim]}
            error={errors[dim] ? `Could not load ${dim} values: ${errors[dim]}` : undefined}
          >
            <MultiSelect<string>
              inputId={`filter-${dim}`}
              aria-label={`Filter ${dim}`}
              width={40}
              placeholder={`every ${dim}`}
              options={options}
              value={selected}
              isLoading={loading === dim}
              allowCustomValue
              onOpenMenu={() => load(dim)}
              onChange={(sel: Array<SelectableValue<string>>) => {
                const next = { ...filters };
                const vals = sel.map((s) => s.value!).filter((v) => v !== undefined && v !== '');
                if (vals.length) {
                  next[dim] = vals;
                } else {
                  delete next[dim];
                }
                onChange(next);
              }}
            />
          </InlineField>
        );
      })}
    </>
  );
}
