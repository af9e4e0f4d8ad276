// onEvent of the executor image build: starts the CodeBuild build (core/image-build.ts).
import { startImageBuild } from '../../core/image-build.ts';
import { logged, port } from './port.ts';

export const handler = logged('StartImageBuild', async (event: { RequestType?: unknown }) =>
  startImageBuild(event, port),
);
