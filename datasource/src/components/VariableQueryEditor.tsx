import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { DIMENSIONS, KpiDataSourceOptions, KpiQuery, KpiVariableQuery } from '../types';
import { DimensionFilters } from './DimensionFilters';

type Props = QueryEditorProps<DataSource, KpiQuery, KpiDataSourceOptions, KpiVariableQuery>;

/** A variable lists the values of one dimension, optionally narrowed by the other dimensions. */
export function VariableQueryEditor({ query, onChange, datasource, range }: Props) {
  const dimension = query.dimension ?? '';
  const options: Array<SelectableValue<string>> = DIMENSIONS.map((d) => ({ label: d, value: d }));
  return (
    <>
      <InlineField label="Values of" labelWidth={14} tooltip="The dimension whose values the variable lists">
        <Select<string>
          inputId="variable-dimension"
          aria-label="Dimension"
          width={24}
          options={options}
          value={dimension || null}
          placeholder="Choose a dimension"
          onChange={(v) => {
            const filters = { ...(query.filters ?? {}) };
            delete filters[v.value!];
            onChange({ ...query, refId: query.refId ?? 'variable', dimension: v.value!, filters });
          }}
        />
      </InlineField>
      {dimension && (
        <DimensionFilters
          datasource={datasource}
          dimensions={DIMENSIONS.filter((d) => d !== dimension)}
          filters={query.filters ?? {}}
          range={range}
          onChange={(filters) => onChange({ ...query, filters })}
        />
      )}
    </>
  );
}
