// isComplete of the executor image build: polls the build until it has pushed the image, or
// fails the deploy with the build's log (core/image-build.ts).
import { imageBuildComplete } from '../../core/image-build.ts';
import { logged, port } from './port.ts';

export const handler = logged('ImageBuildComplete', async (event: { RequestType?: unknown }) =>
  imageBuildComplete(event, port),
);
