import { registryTarget } from './registry-front.ts';

describe('the ECR action a registry request is authorized as', () => {
  it.each<[string, string, string, string | undefined, string | undefined]>([
    ['the /v2/ ping needs no action', 'GET', '/v2/', undefined, undefined],
    ['reading a manifest is BatchGetImage', 'GET', '/v2/stack/hello/manifests/1.0', 'stack/hello', 'ecr:BatchGetImage'],
    ['checking a manifest is BatchGetImage', 'HEAD', '/v2/stack/hello/manifests/sha256:abc', 'stack/hello', 'ecr:BatchGetImage'],
    ['reading a blob is GetDownloadUrlForLayer', 'GET', '/v2/stack/hello/blobs/sha256:abc', 'stack/hello', 'ecr:GetDownloadUrlForLayer'],
    ['checking a blob is BatchCheckLayerAvailability', 'HEAD', '/v2/stack/hello/blobs/sha256:abc', 'stack/hello', 'ecr:BatchCheckLayerAvailability'],
    ['starting an upload is InitiateLayerUpload', 'POST', '/v2/stack/hello/blobs/uploads/', 'stack/hello', 'ecr:InitiateLayerUpload'],
    ['sending a chunk is UploadLayerPart', 'PATCH', '/v2/stack/hello/blobs/uploads/0b1d-uuid', 'stack/hello', 'ecr:UploadLayerPart'],
    ['finishing an upload is CompleteLayerUpload', 'PUT', '/v2/stack/hello/blobs/uploads/0b1d-uuid', 'stack/hello', 'ecr:CompleteLayerUpload'],
    ['writing a manifest is PutImage', 'PUT', '/v2/stack/hello/manifests/1.0', 'stack/hello', 'ecr:PutImage'],
    ['listing tags is ListImages', 'GET', '/v2/a/b/c/tags/list', 'a/b/c', 'ecr:ListImages'],
  ])('%s', (_title, method, path, repository, action) => {
    expect(registryTarget(method, path)).toEqual(repository ? { repository, action } : {});
  });
});
