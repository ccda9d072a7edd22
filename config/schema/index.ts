import { z } from 'zod';
import { Id } from './common';
import { Device, NodeMap, RegisterMap } from './devices';
import { Calendar, PresenceSensor, Program, Zone } from './lighting';
import { AlertsSection } from './alerts';
import { EvaluationSection } from './evaluation';
import { Building, EmissionFactor, Tariff, TelemetrySection } from './energy';
import { User } from './access';
import { NotificationsSection } from './notifications';
import { Sensor, SensorModel } from './sensors';
import { OpenDataSection } from './openData';
import { ClusterSection } from './cluster';
import { HttpSection, InfluxSection, MqttSection, ServiceSection, Site } from './service';

export const CONFIG_VERSION = 1;

export const Commune = z.strictObject({
  id: Id,
  name: z.string().min(1),
  insee: z
    .string()
    .regex(/^\d[0-9AB]\d{3}$/, { message: "must be a 5-character INSEE code such as '57463'" })
    .optional(),
});

export const ConfigSchema = z
  .strictObject({
    version: z.literal(CONFIG_VERSION).describe('Configuration format version.'),
    site: Site,
    service: ServiceSection,
    http: HttpSection,
    mqtt: MqttSection,
    influx: InfluxSection.optional().describe(
      'Absent: telemetry is kept in the on-disk spool until InfluxDB is configured.',
    ),
    communes: z.array(Commune).min(1),
    register_maps: z.array(RegisterMap).default([]),
    node_maps: z.array(NodeMap).default([]),
    devices: z.array(Device).default([]),
    programs: z.array(Program).default([]),
    calendars: z.array(Calendar).default([]),
    zones: z.array(Zone).default([]),
    presence_sensors: z.array(PresenceSensor).default([]),
    buildings: z.array(Building).default([]),
    sensor_models: z
      .array(SensorModel)
      .default([])
      .describe('Kinds of sensors (fields, units, paths, expected period), declared once for many sensors.'),
    sensors: z
      .array(Sensor)
      .default([])
      .describe(
        'Sensors by model: each becomes a site with the points of its model (and its radio readings).',
      ),
    users: z.array(User).default([]),
    tariffs: z.array(Tariff).default([]).describe('Dated prices, for costs in the console and dashboards.'),
    emission_factors: z
      .array(EmissionFactor)
      .default([])
      .describe('Dated kg CO2e per unit, with their source.'),
    telemetry: TelemetrySection,
    alerts: AlertsSection.describe('Alert rules (configuration, no code per rule) and where alerts go.'),
    evaluation: EvaluationSection,
    notifications: NotificationsSection.optional().describe('Absent: alerts reach no one by e-mail or SMS.'),
    open_data: OpenDataSection,
    cluster: ClusterSection.optional().describe(
      'Absent: single-machine mode. With etcd: one instance per shard drives the devices, the others stand by.',
    ),
  })
  .describe('nocturne site configuration: communes, devices, lighting and buildings.');

export type Config = z.output<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type Commune = Config['communes'][number];
export type DeviceConfig = Config['devices'][number];
export type ModbusDeviceConfig = Extract<
  DeviceConfig,
  { protocol: 'modbus-tcp' | 'modbus-rtu' | 'modbus-rtu-over-tcp' }
>;
export type OpcuaDeviceConfig = Extract<DeviceConfig, { protocol: 'opcua' }>;
export type MqttSourceDeviceConfig = Extract<DeviceConfig, { protocol: 'mqtt' }>;
export type RegisterMapConfig = Config['register_maps'][number];
export type NodeMapConfig = Config['node_maps'][number];
export type ZoneConfig = Config['zones'][number];
export type LuminaireConfig = ZoneConfig['luminaires'][number];
export type ProgramConfig = Config['programs'][number];
export type ProgramStepConfig = ProgramConfig['steps'][number];
export type CalendarConfig = Config['calendars'][number];
export type CalendarRuleConfig = CalendarConfig['rules'][number];
export type PresenceSensorConfig = Config['presence_sensors'][number];
export type BuildingConfig = Config['buildings'][number];
export type PointConfig = BuildingConfig['points'][number];
export type ModbusBindingConfig = NonNullable<PointConfig['modbus']>;
export type OpcuaBindingConfig = NonNullable<PointConfig['opcua']>;
export type UserConfig = Config['users'][number];
export type MqttConfig = Config['mqtt'];
export type InfluxConfig = NonNullable<Config['influx']>;
export type TariffConfig = Config['tariffs'][number];
export type EmissionFactorConfig = Config['emission_factors'][number];
export type TelemetryConfig = Config['telemetry'];
export type AlertsConfig = Config['alerts'];
export type EvaluationConfig = Config['evaluation'];
export type InvestmentConfig = EvaluationConfig['investments'][number];
export type AlertRuleConfig = AlertsConfig['rules'][number];
export type AlertWebhookConfig = AlertsConfig['webhooks'][number];
export type NotificationsConfig = NonNullable<Config['notifications']>;
export type RecipientConfig = NotificationsConfig['recipients'][number];
export type QuietHoursConfig = NonNullable<NotificationsConfig['quiet_hours']>;
export type EmailChannelConfig = NonNullable<NotificationsConfig['email']>;
export type SmsChannelConfig = NonNullable<NotificationsConfig['sms']>;
export type OpenDataSetConfig = Config['open_data']['datasets'][number];
