import { type Static, type TSchema, Type } from 'typebox';

/** The error body of both services: `{code, status: "error", message, errors?}`, `code` being the HTTP status. */
export const ErrorEnvelope = Type.Object(
  {
    code: Type.Integer({ minimum: 400, maximum: 599, examples: [401] }),
    status: Type.Literal('error'),
    message: Type.String({ examples: ['Credenciales inválidas'] }),
    errors: Type.Optional(Type.Array(Type.String())),
  },
  {
    $id: 'ErrorEnvelope',
    additionalProperties: false,
    examples: [
      { code: 401, status: 'error', message: 'Credenciales inválidas' },
      {
        code: 400,
        status: 'error',
        message: 'Error en la validación de datos',
        errors: ["El campo 'clientSecret' es requerido"],
      },
    ],
  },
);
export type ErrorEnvelope = Static<typeof ErrorEnvelope>;

/** The success body of the otherclient API: `{code, status: "success", message, data}`. */
export function SuccessEnvelope<Data extends TSchema>(data: Data, example?: { message: string; data: Static<Data> }) {
  return Type.Object(
    {
      code: Type.Integer({ minimum: 200, maximum: 299, examples: [200] }),
      status: Type.Literal('success'),
      message: Type.String(),
      data,
    },
    {
      additionalProperties: false,
      // The example of the API docs, as a whole body.
      ...(example ? { examples: [{ code: 200, status: 'success', ...example }] } : {}),
    },
  );
}
