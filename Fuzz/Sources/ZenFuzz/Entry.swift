import Foundation

// Two builds of one program:
// - `scripts/fuzz` builds it with `ZEN_FUZZ=1` (Package.swift then adds -sanitize=fuzzer and
//   -DFUZZING, and links libFuzzer without its own main): `zen-fuzz TARGET [libFuzzer flags…]`
//   hands the target to libFuzzer's driver.
// - A plain build replays inputs: `zen-fuzz TARGET FILE_OR_DIR…` runs every file through the
//   target once (the corpus smoke of scripts/test, and a crash reproducer).

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target libFuzzer drives (a C callback captures nothing, so it is read from here).
nonisolated(unsafe) var selectedTarget: FuzzTarget = { _ in }
#endif

@main
enum ZenFuzz {
    static func main() {
        var arguments = CommandLine.arguments
        guard arguments.count >= 2, let target = FuzzTargets.all[arguments[1]] else {
            let names = FuzzTargets.all.keys.sorted().joined(separator: ", ")
            FileHandle.standardError.write(Data("usage: zen-fuzz TARGET [inputs or libFuzzer flags…]; targets: \(names)\n".utf8))
            exit(2)
        }
        arguments.remove(at: 1)
        #if FUZZING
        selectedTarget = target
        var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var count = CInt(arguments.count)
        let status = cArguments.withUnsafeMutableBufferPointer { buffer in
            var pointer = buffer.baseAddress
            return LLVMFuzzerRunDriver(&count, &pointer) { data, size in
                selectedTarget(UnsafeRawBufferPointer(start: data, count: size))
                return 0
            }
        }
        exit(status)
        #else
        var replayed = 0
        for path in arguments.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("zen-fuzz: no such input \(path)\n".utf8))
                exit(2)
            }
            let files = isDirectory.boolValue
                ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
                : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                data.withUnsafeBytes { target($0) }
                replayed += 1
            }
        }
        print("zen-fuzz \(CommandLine.arguments[1]): replayed \(replayed) inputs, no crash")
        #endif
    }
}
