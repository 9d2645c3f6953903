import React from 'react';
import { SelectableValue } from '@grafana/data';
import { InlineField, InlineSwitch, Input, RadioButtonGroup } from '@grafana/ui';

import { ANOMALY_DEFAULT_WEEKS, ANOMALY_MAX_WEEKS, ANOMALY_MIN_WEEKS, AnomalySensitivity, AnomalySettings } from '../types';

type Level = 'low' | 'medium' | 'high' | 'number';

const LEVELS: Array<SelectableValue<Level>> = [
  { label: 'Low', value: 'low', description: 'band of 4 spreads: only large departures are flagged' },
  { label: 'Medium', value: 'medium', description: 'band of 3 spreads (the default)' },
  { label: 'High', value: 'high', description: 'band of 2 spreads: flags more' },
  { label: 'Number', value: 'number', description: 'a band width of your own, in spreads' },
];

const K: Record<Exclude<Level, 'number'>, number> = { low: 4, medium: 3, high: 2 };

/** The band width in spreads of a sensitivity, as the backend resolves it (medium when unset). */
export function sensitivityK(s: AnomalySensitivity | undefined): number {
  if (typeof s === 'number') {
    return s;
  }
  return K[s ?? 'medium'] ?? K.medium;
}

interface Props {
  anomaly: AnomalySettings | undefined;
  onChange: (a: AnomalySettings) => void;
  disabled?: boolean;
  labelWidth?: number;
  /** Show the "Flag only" switch (KPI series: anomaly annotations show the flagged regions themselves). */
  showFlagOnly?: boolean;
}

/** Sensitivity (low, medium, high, or k), weeks of history and, for KPI series, flag only, of the anomaly detection. */
export function AnomalyFields({ anomaly, onChange, disabled, labelWidth = 12, showFlagOnly }: Props) {
  const s = anomaly?.sensitivity;
  const level: Level = typeof s === 'number' ? 'number' : (s ?? 'medium');
  const k = sensitivityK(s);
  const set = (patch: Partial<AnomalySettings>) => {
    const next: AnomalySettings = { ...anomaly, ...patch };
    if (next.weeks === undefined) {
      delete next.weeks;
    }
    if (!next.flagOnly) {
      delete next.flagOnly;
    }
    onChange(next);
  };
  return (
    <>
      <InlineField
        label="Sensitivity"
        labelWidth={labelWidth}
        disabled={disabled}
        tooltip="How far from the expected value a point must be to be flagged: the band is expected ± k spreads (low 4, medium 3, high 2)"
      >
        <RadioButtonGroup<Level>
          aria-label="Anomaly sensitivity level"
          size="sm"
          options={LEVELS}
          value={level}
          disabled={disabled}
          onChange={(v) => set({ sensitivity: v === 'number' ? k : v })}
        />
      </InlineField>
      <InlineField label="k" labelWidth={4} disabled={disabled} tooltip="Band width in spreads, more than 0 and at most 100 (3 is usual; lower flags more)">
        <Input
          key={`k-${k}`}
          id="sensitivity"
          aria-label="Anomaly sensitivity"
          type="number"
          width={8}
          min={0.5}
          max={100}
          step={0.5}
          defaultValue={k}
          onBlur={(e) => {
            const v = Number(e.currentTarget.value);
            if (e.currentTarget.value.trim() !== '' && v !== k) {
              set({ sensitivity: v });
            }
          }}
        />
      </InlineField>
      <InlineField
        label="Weeks"
        labelWidth={8}
        disabled={disabled}
        tooltip={`Weeks of history the expected value comes from (${ANOMALY_MIN_WEEKS} to ${ANOMALY_MAX_WEEKS}, default ${ANOMALY_DEFAULT_WEEKS})`}
      >
        <Input
          id="anomaly-weeks"
          aria-label="Anomaly weeks"
          type="number"
          width={8}
          min={ANOMALY_MIN_WEEKS}
          max={ANOMALY_MAX_WEEKS}
          placeholder={String(ANOMALY_DEFAULT_WEEKS)}
          defaultValue={anomaly?.weeks ?? ''}
          onBlur={(e) => {
            const raw = e.currentTarget.value.trim();
            const weeks = raw ? Number(raw) : undefined;
            if (weeks !== anomaly?.weeks) {
              set({ weeks });
            }
          }}
        />
      </InlineField>
      {showFlagOnly && (
        <InlineField
          label="Flag only"
          labelWidth={10}
          disabled={disabled}
          htmlFor="anomaly-flag-only"
          tooltip="Returns only the 0/1 anomaly flag of each series (1 where flagged), not the KPI, band and score: for alert rules (reduce with max, fire on >= 1)"
        >
          <InlineSwitch
            id="anomaly-flag-only"
            aria-label="Anomaly flag only"
            value={!!anomaly?.flagOnly}
            disabled={disabled}
            onChange={(e) => set({ flagOnly: e.currentTarget.checked || undefined })}
          />
        </InlineField>
      )}
    </>
  );
}
