import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { KpiDataSourceOptions, KpiQuery, QueryType } from '../types';
import { DimensionFilters } from './DimensionFilters';

type Props = QueryEditorProps<DataSource, KpiQuery, KpiDataSourceOptions>;

const TYPES: Array<SelectableValue<string>> = [
  { label: 'Campaigns', value: QueryType.Campaigns, description: 'campaign phases from the calendar, as regions' },
  { label: 'Detected anomalies', value: QueryType.Anomalies, description: 'points where a KPI left its expected band' },
];

/** Annotations: campaigns (optionally per store) or detected anomalies of a KPI. */
export function AnnotationQueryEditor({ query, onChange, datasource, range }: Props) {
  const type = query.queryType === QueryType.Anomalies ? QueryType.Anomalies : QueryType.Campaigns;
  return (
    <>
      <InlineField label="Show" labelWidth={14}>
        <Select<string>
          inputId="annotation-type"
          aria-label="Annotation type"
          width={30}
          options={TYPES}
          value={type}
          onChange={(v) => onChange({ ...query, queryType: v.value! })}
        />
      </InlineField>
      {type === QueryType.Anomalies && (
        <InlineField label="KPI" labelWidth={14} tooltip="A catalog id such as gmv or conversion_rate">
          <Select<string>
            inputId="annotation-kpi"
            aria-label="Annotation KPI"
            width={30}
            allowCustomValue
            options={query.kpi ? [{ label: query.kpi, value: query.kpi }] : []}
            value={query.kpi || null}
            onChange={(v) => onChange({ ...query, kpi: v.value ?? '' })}
          />
        </InlineField>
      )}
      <DimensionFilters
        datasource={datasource}
        dimensions={['store', 'channel']}
        filters={query.filters ?? {}}
        range={range}
        onChange={(filters) => onChange({ ...query, filters })}
      />
    </>
  );
}
