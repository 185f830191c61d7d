/**
 * The one registry of error codes of both services: each code has its HTTP status and the message sent in the
 * envelope. Messages that the specification fixes (for example `Credenciales inválidas`) are quoted from it.
 */
export const ErrorCatalog = {
  VALIDATION_FAILED: { status: 400, message: 'Error en la validación de datos' },
  MALFORMED_JSON: { status: 400, message: 'El cuerpo de la solicitud no es JSON válido' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Tipo de contenido no soportado: use application/json' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'El cuerpo de la solicitud es demasiado grande' },
  BAD_REQUEST: { status: 400, message: 'Solicitud inválida' },
  INVALID_CREDENTIALS: { status: 401, message: 'Credenciales inválidas' },
  UNAUTHORIZED: { status: 401, message: 'Token de acceso inválido o ausente' },
  FORBIDDEN: { status: 403, message: 'Acceso denegado' },
  UNKNOWN_APPLICATION: { status: 400, message: 'La aplicación indicada en application_id no existe' },
  APPLICATION_DISABLED: { status: 403, message: 'La aplicación indicada en application_id está deshabilitada' },
  INVALID_REFRESH_TOKEN: { status: 401, message: 'Refresh token inválido, expirado o revocado' },
  NOT_FOUND: { status: 404, message: 'Recurso no encontrado' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Método no permitido' },
  RATE_LIMITED: { status: 429, message: 'Demasiadas solicitudes, intente más tarde' },
  INTERNAL: { status: 500, message: 'Error interno del servidor' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'Servicio no disponible' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorCatalog;
