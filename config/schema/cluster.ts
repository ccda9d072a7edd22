import { z } from 'zod';
import { Id, SecretRef } from './common';

/** Several instances per shard, coordinated by etcd (docs/deploy.md, "Two instances"). */
export const ClusterSection = z.strictObject({
  etcd: z
    .strictObject({
      endpoints: z
        .array(
          z
            .string()
            .regex(/^https?:\/\/[^/]+$/, { message: "must be 'http://host:port' or 'https://host:port'" }),
        )
        .min(1)
        .describe('Members of the etcd cluster (all of them, so that losing one changes nothing).'),
      shard: Id.default('all').describe(
        'The shard this instance belongs to: instances with the same shard share one leader.',
      ),
      member: z
        .string()
        .min(1)
        .optional()
        .describe('This instance’s name in the leader key. Default: service.instance.'),
      advertise_url: z
        .string()
        .regex(/^https?:\/\/[^/?#]+$/, {
          message: "must be 'http://host:port' or 'https://host:port', with no path",
        })
        .optional()
        .describe(
          'Where the other instances reach this one’s API, published in etcd while it leads its shard: commands for its communes are forwarded there. Default: http://<http.host>:<http.port>, which must then be neither a wildcard address nor, unless every instance runs on this machine, a loopback one.',
        ),
      key_prefix: z.string().min(1).default('nocturne/').describe('Every key of nocturne starts with this.'),
      lease_ttl_s: z
        .number()
        .int()
        .min(1)
        .max(60)
        .default(5)
        .describe(
          'Time to live of the leader’s lease: a standby takes over at most this long after the leader died.',
        ),
      safety_margin_ms: z
        .number()
        .int()
        .min(0)
        .max(59_000)
        .default(1_500)
        .describe(
          'The leader stops commanding this long before its lease could expire: at least the longest a write batch can wait in a device link and travel (its request timeout) plus clock drift over one TTL. Less than lease_ttl_s.',
        ),
      call_timeout_ms: z
        .number()
        .int()
        .min(100)
        .max(60_000)
        .default(1_000)
        .describe('Each etcd request fails after this long (a command is then not acknowledged).'),
      username: z.string().optional(),
      password: SecretRef.optional(),
      tls: z
        .strictObject({
          ca_file: z.string().min(1),
          cert_file: z.string().optional(),
          key_file: z.string().optional(),
        })
        .optional()
        .describe('Files relative to the configuration file; with https:// endpoints.'),
    })
    .refine((etcd) => etcd.safety_margin_ms < etcd.lease_ttl_s * 1000, {
      message: 'safety_margin_ms must be less than lease_ttl_s',
      path: ['safety_margin_ms'],
    })
    .refine((etcd) => (etcd.username === undefined) === (etcd.password === undefined), {
      message: 'username and password go together',
      path: ['password'],
    })
    .optional()
    .describe('Absent: single-machine mode, this instance drives every device.'),
  shards: z
    .array(
      z.strictObject({
        name: Id.describe('The shard’s name, as given in cluster.etcd.shard to its instances.'),
        communes: z.array(Id).min(1).describe('The communes whose devices this shard’s leader drives.'),
      }),
    )
    .min(1)
    .optional()
    .describe(
      'Shards by commune, the same list for every instance (each forwards commands for another shard’s communes to its leader). A commune may stay out of every shard only if it has nothing to drive or read: no zone, device, building or sensor. Absent: one shard owns every commune.',
    ),
});

export type ClusterConfig = z.output<typeof ClusterSection>;
export type EtcdConfig = NonNullable<ClusterConfig['etcd']>;
