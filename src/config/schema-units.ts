// The value shapes several groups of the config schema share: a duration in ms, an optional string, a size bound.
import { Type } from 'typebox';

export const Milliseconds = (def: number, description: string) =>
  Type.Integer({ minimum: 1, maximum: 3_600_000, default: def, description });

export const Optional = (description: string) => Type.String({ default: '', description });

/** gRPC's (and protobuf's) largest message: 2 GiB - 1. */
export const INT32_MAX = 2_147_483_647;
