import React, { ChangeEvent } from 'react';
import { DataSourcePluginOptionsEditorProps, SelectableValue } from '@grafana/data';
import { FieldSet, InlineField, Input, RadioButtonGroup, SecretInput, Select } from '@grafana/ui';

import { KpiDataSourceOptions, KpiSecureJsonData, SETTINGS_DEFAULTS } from '../types';

type Props = DataSourcePluginOptionsEditorProps<KpiDataSourceOptions, KpiSecureJsonData>;

const LABEL_WIDTH = 20;

const VERSION_OPTIONS: Array<SelectableValue<'1.8' | '2.x' | '3.x'>> = [
  { label: 'InfluxDB 1.8', value: '1.8', description: 'Database and retention policy as db/rp' },
  {
    label: 'InfluxDB 2.x',
    value: '2.x',
    description: 'InfluxQL through the v1 /query API needs a DBRP mapping of the bucket',
  },
  {
    label: 'InfluxDB 3.x',
    value: '3.x',
    description: 'Core, Enterprise, Cloud: InfluxQL only (no Flux); the bucket is the database',
  },
];

const LANGUAGE_OPTIONS: Array<SelectableValue<'influxql' | 'flux'>> = [
  { label: 'InfluxQL', value: 'influxql', description: 'The v1 /query API: InfluxDB 1.8, 2.x and 3.x' },
  { label: 'Flux', value: 'flux', description: 'InfluxDB 1.8 (flux-enabled) and 2.x only' },
];

const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

/** A whole number above 0, or unset. */
const positiveInt = (v: number | undefined) => v === undefined || (Number.isInteger(v) && v > 0);

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  const zones = intl.supportedValuesOf ? intl.supportedValuesOf('timeZone') : [];
  return Array.from(new Set([SETTINGS_DEFAULTS.timeZone, 'UTC', ...zones]));
}

interface NumberSettingProps {
  label: string;
  aria: string;
  id: string;
  invalid: boolean;
  error: string;
  tooltip: string;
  placeholder: number;
  value?: number;
  onChange: (e: ChangeEvent<HTMLInputElement>) => void;
}

/** A whole-number setting: empty means the backend's default (the placeholder). */
function NumberSetting({ label, aria, id, invalid, error, tooltip, placeholder, value, onChange }: NumberSettingProps) {
  return (
    <InlineField label={label} labelWidth={LABEL_WIDTH} invalid={invalid} error={error} tooltip={tooltip}>
      <Input
        id={id}
        aria-label={aria}
        type="number"
        width={12}
        placeholder={String(placeholder)}
        value={value ?? ''}
        onChange={onChange}
      />
    </InlineField>
  );
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const { jsonData, secureJsonFields } = options;
  const secureJsonData = (options.secureJsonData ?? {}) as KpiSecureJsonData;
  const version = jsonData.version ?? (SETTINGS_DEFAULTS.version as '2.x');

  const setJson = <K extends keyof KpiDataSourceOptions>(key: K, value: KpiDataSourceOptions[K]) => {
    const next = { ...jsonData, [key]: value };
    if (value === undefined || value === '') {
      delete next[key];
    }
    onOptionsChange({ ...options, jsonData: next });
  };

  const seriesLimitInvalid = !positiveInt(jsonData.seriesLimit);
  const requestMemoryInvalid = !positiveInt(jsonData.requestMemoryMB);
  const datasourceMemory = jsonData.datasourceMemoryMB ?? SETTINGS_DEFAULTS.datasourceMemoryMB;
  const datasourceMemoryInvalid =
    !positiveInt(jsonData.datasourceMemoryMB) ||
    (jsonData.requestMemoryMB ?? SETTINGS_DEFAULTS.requestMemoryMB) > datasourceMemory;
  const cacheTTLInvalid = !!jsonData.cacheTTL && !DURATION.test(jsonData.cacheTTL) && jsonData.cacheTTL !== '0';
  const bucketDefault = version === '3.x' ? SETTINGS_DEFAULTS.database3 : SETTINGS_DEFAULTS.bucket;
  const bucketInvalid = version === '3.x' && !!jsonData.bucket?.includes('/');
  const language = version === '3.x' ? 'influxql' : (jsonData.queryLanguage ?? 'influxql');
  const setNumber =
    (key: 'seriesLimit' | 'requestMemoryMB' | 'datasourceMemoryMB') => (e: ChangeEvent<HTMLInputElement>) => {
      const raw = e.currentTarget.value;
      setJson(key, raw === '' ? undefined : Number(raw));
    };
  const currencyInvalid = !!jsonData.currency && !/^[A-Z]{3}$/.test(jsonData.currency);
  const urlInvalid = !!options.url && !/^https?:\/\/[^/]+/.test(options.url);

  return (
    <>
      <FieldSet label="InfluxDB">
        <InlineField
          label="URL"
          labelWidth={LABEL_WIDTH}
          invalid={urlInvalid}
          error="An http(s) URL, e.g. http://influxdb:8086"
          tooltip="Where the StorePulse ingest service writes"
        >
          <Input
            id="config-url"
            aria-label="InfluxDB URL"
            width={40}
            placeholder="http://localhost:8086"
            value={options.url ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) =>
              onOptionsChange({ ...options, url: e.currentTarget.value.trim() })
            }
          />
        </InlineField>
        <InlineField label="Version" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup
            options={VERSION_OPTIONS}
            value={version}
            onChange={(v) => {
              const next = { ...jsonData, version: v };
              if (v === '3.x') {
                delete next.queryLanguage; // InfluxDB 3 has no Flux
              }
              onOptionsChange({ ...options, jsonData: next });
            }}
          />
        </InlineField>
        <InlineField
          label="Query language"
          labelWidth={LABEL_WIDTH}
          tooltip="InfluxQL runs on every InfluxDB generation and is the faster path; Flux is kept for InfluxDB 1.8 and 2.x"
        >
          <RadioButtonGroup
            options={LANGUAGE_OPTIONS}
            disabledOptions={version === '3.x' ? ['flux'] : []}
            value={language}
            onChange={(v) => setJson('queryLanguage', v === 'flux' ? 'flux' : undefined)}
          />
        </InlineField>
        {version === '2.x' && language === 'flux' && (
          <InlineField label="Organization" labelWidth={LABEL_WIDTH}>
            <Input
              id="config-org"
              aria-label="Organization"
              width={40}
              value={jsonData.org ?? ''}
              onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('org', e.currentTarget.value)}
            />
          </InlineField>
        )}
        <InlineField
          label={version === '1.8' ? 'Database/RP' : version === '3.x' ? 'Database' : 'Bucket'}
          labelWidth={LABEL_WIDTH}
          invalid={bucketInvalid}
          error="InfluxDB 3 names a database without /"
          tooltip={`Default ${bucketDefault}; on 1.8 the database and retention policy as db/rp; on 2.x a bucket with a DBRP mapping; on 3.x a database`}
        >
          <Input
            id="config-bucket"
            aria-label="Bucket"
            width={40}
            placeholder={bucketDefault}
            value={jsonData.bucket ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('bucket', e.currentTarget.value)}
          />
        </InlineField>
        <InlineField
          label="Token"
          labelWidth={LABEL_WIDTH}
          tooltip={
            version === '1.8' ? 'user:password on InfluxDB 1.8' : 'An InfluxDB API token with read access to the bucket'
          }
        >
          <SecretInput
            id="config-token"
            aria-label="Token"
            width={40}
            placeholder={version === '1.8' ? 'user:password' : 'token'}
            isConfigured={!!secureJsonFields?.token}
            value={secureJsonData.token ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) =>
              onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, token: e.currentTarget.value } })
            }
            onReset={() =>
              onOptionsChange({
                ...options,
                secureJsonFields: { ...secureJsonFields, token: false },
                secureJsonData: { ...secureJsonData, token: '' },
              })
            }
          />
        </InlineField>
      </FieldSet>

      <FieldSet label="Store">
        <InlineField
          label="Store time zone"
          labelWidth={LABEL_WIDTH}
          tooltip="Day, week and month buckets follow it; must equal the ingest service's location"
        >
          <Select<string>
            inputId="config-timezone"
            aria-label="Store time zone"
            width={40}
            options={timeZones().map((z) => ({ label: z, value: z }))}
            value={jsonData.timeZone ?? SETTINGS_DEFAULTS.timeZone}
            allowCustomValue
            onChange={(v) => setJson('timeZone', v?.value)}
          />
        </InlineField>
        <InlineField
          label="Currency"
          labelWidth={LABEL_WIDTH}
          invalid={currencyInvalid}
          error="An ISO 4217 code such as CNY, USD, EUR"
        >
          <Input
            id="config-currency"
            aria-label="Currency"
            width={12}
            placeholder={SETTINGS_DEFAULTS.currency}
            value={jsonData.currency ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) =>
              setJson('currency', e.currentTarget.value.trim().toUpperCase())
            }
          />
        </InlineField>
        <NumberSetting
          label="Series limit"
          aria="Series limit"
          id="config-series-limit"
          invalid={seriesLimitInvalid}
          error="A whole number above 0"
          tooltip="A query returning more series fails with a message instead of being truncated"
          placeholder={SETTINGS_DEFAULTS.seriesLimit}
          value={jsonData.seriesLimit}
          onChange={setNumber('seriesLimit')}
        />
      </FieldSet>

      <FieldSet label="Limits">
        <NumberSetting
          label="Memory per request"
          aria="Memory per request (MB)"
          id="config-request-memory"
          invalid={requestMemoryInvalid}
          error="A whole number of MB above 0"
          tooltip="Estimated working memory of one panel refresh or alert evaluation, all its queries together (MB); a query over it fails with a message"
          placeholder={SETTINGS_DEFAULTS.requestMemoryMB}
          value={jsonData.requestMemoryMB}
          onChange={setNumber('requestMemoryMB')}
        />
        <NumberSetting
          label="Memory of this datasource"
          aria="Memory of this datasource (MB)"
          id="config-datasource-memory"
          invalid={datasourceMemoryInvalid}
          error="A whole number of MB, at least the memory per request"
          tooltip="Estimated working memory of all this datasource's requests running at once (MB). The whole plugin process has its own limit: memory_mb in [plugin.storepulse-kpi-datasource] of grafana.ini"
          placeholder={SETTINGS_DEFAULTS.datasourceMemoryMB}
          value={jsonData.datasourceMemoryMB}
          onChange={setNumber('datasourceMemoryMB')}
        />
        <InlineField
          label="Cache"
          labelWidth={LABEL_WIDTH}
          invalid={cacheTTLInvalid}
          error="A duration such as 10s or 1m; 0s turns the cache off"
          tooltip="How long identical reads are served from memory: wall screens refreshing together read InfluxDB once"
        >
          <Input
            id="config-cache-ttl"
            aria-label="Cache TTL"
            width={12}
            placeholder={SETTINGS_DEFAULTS.cacheTTL}
            value={jsonData.cacheTTL ?? ''}
            onChange={(e: ChangeEvent<HTMLInputElement>) => setJson('cacheTTL', e.currentTarget.value.trim())}
          />
        </InlineField>
      </FieldSet>
    </>
  );
}
