// The request types of every served method as @bufbuild/protobuf descriptors, built from the file descriptors that
// @grpc/proto-loader attaches to each method definition (ours, grpc.health.v1's, reflection's alike), so that the
// strict check (wire-check.ts) knows each field's type without a second parse of the .proto files.
import {
  create,
  createFileRegistry,
  fromBinary,
  type DescMessage,
  type FileRegistry,
} from '@bufbuild/protobuf';
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from '@bufbuild/protobuf/wkt';

/** What proto-loader attaches to a method's request type (other definitions may have none). */
interface LoadedMethod {
  path: string;
  requestType?: { fileDescriptorProtos?: readonly Uint8Array[] };
}

/** Every message and enum a file set defines, by fully-qualified name with its leading dot. */
function definedNames(files: readonly FileDescriptorProto[]): Set<string> {
  const names = new Set<string>();
  const add = (scope: string, messages: readonly DescriptorProto[]) => {
    for (const message of messages) {
      const name = `${scope}.${message.name}`;
      names.add(name);
      for (const e of message.enumType) names.add(`${name}.${e.name}`);
      add(name, message.nestedType);
    }
  };
  for (const file of files) {
    const scope = file.package === '' ? '' : `.${file.package}`;
    for (const e of file.enumType) names.add(`${scope}.${e.name}`);
    add(scope, file.messageType);
  }
  return names;
}

/**
 * protobufjs writes type references relative to their scope ("InferParameter"), which descriptor.proto allows but
 * @bufbuild/protobuf's registry does not: each is qualified by protobuf's scoping rule (innermost scope first).
 */
function qualify(files: readonly FileDescriptorProto[]): void {
  const names = definedNames(files);
  const resolve = (scope: string, ref: string): string => {
    if (ref === '' || ref.startsWith('.')) return ref;
    for (let s = scope; ; s = s.slice(0, Math.max(0, s.lastIndexOf('.')))) {
      if (names.has(`${s}.${ref}`)) return `${s}.${ref}`;
      if (s === '') return ref; // unknown: the registry names it
    }
  };
  const visit = (scope: string, messages: readonly DescriptorProto[]) => {
    for (const message of messages) {
      const name = `${scope}.${message.name}`;
      for (const field of message.field) field.typeName = resolve(name, field.typeName);
      visit(name, message.nestedType);
    }
  };
  for (const file of files) {
    const scope = file.package === '' ? '' : `.${file.package}`;
    visit(scope, file.messageType);
    for (const service of file.service) {
      for (const method of service.method) {
        method.inputType = resolve(scope, method.inputType);
        method.outputType = resolve(scope, method.outputType);
      }
    }
  }
}

const registries = new WeakMap<readonly Uint8Array[], FileRegistry>();

/** One registry per set of file descriptors (proto-loader shares one array between the methods of a load). */
export function registryOf(protos: readonly Uint8Array[]): FileRegistry {
  let registry = registries.get(protos);
  if (registry === undefined) {
    const files = protos.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
    qualify(files);
    registry = createFileRegistry(create(FileDescriptorSetSchema, { file: files }));
    registries.set(protos, registry);
  }
  return registry;
}

/** The request type of a method ("/package.Service/Method"), when its definition carries file descriptors. */
export function requestDescriptor(method: LoadedMethod): DescMessage | undefined {
  const protos = method.requestType?.fileDescriptorProtos;
  const [, service, name] = /^\/(.+)\/([^/]+)$/.exec(method.path) ?? [];
  if (protos === undefined || service === undefined) return undefined;
  return registryOf(protos)
    .getService(service)
    ?.methods.find((m) => m.name === name)?.input;
}
