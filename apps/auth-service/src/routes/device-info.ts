import type { Prisma } from '@mxp/db';
import { HttpError } from '@mxp/service-kit';

/** `device_info` as stored, refused with 400 when its JSON is larger than `maxBytes`. */
export function boundedDeviceInfo(
  deviceInfo: Record<string, unknown> | undefined,
  maxBytes: number,
): Prisma.InputJsonObject | undefined {
  if (deviceInfo === undefined) return undefined;
  if (Buffer.byteLength(JSON.stringify(deviceInfo), 'utf8') > maxBytes) {
    throw new HttpError('VALIDATION_FAILED', {
      errors: [`El campo 'device_info' debe ocupar como máximo ${maxBytes} bytes`],
    });
  }
  return deviceInfo as Prisma.InputJsonObject;
}
