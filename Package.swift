// swift-tools-version: 6.2
import PackageDescription
import Foundation

// scripts/fuzz sets ZEN_FUZZ=1 and ZEN_FUZZ_LIBRARY (clang's libFuzzer without its main):
// the project's own code is then instrumented for coverage, and zen-fuzz hands its targets to
// libFuzzer's driver. Dependencies stay as they are, so only these three targets rebuild.
let fuzzing = ProcessInfo.processInfo.environment["ZEN_FUZZ"] == "1"
let fuzzSettings: [SwiftSetting] = fuzzing ? [.unsafeFlags(["-sanitize=fuzzer"]), .define("FUZZING")] : []
let fuzzLinking: [LinkerSetting] = fuzzing
    ? [.unsafeFlags(["-Xlinker", ProcessInfo.processInfo.environment["ZEN_FUZZ_LIBRARY"] ?? "libclang_rt.fuzzer_no_main-x86_64.a", "-lstdc++"])]
    : []

let package = Package(
    name: "ZenExporter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "zen-exporter", targets: ["ZenExporterMain"]),
        .library(name: "CostModel", targets: ["CostModel"]),
        .executable(name: "zen-fuzz", targets: ["ZenFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // PostgreSQL usage sources (the operator's application database, CHOM tenants).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // Web security (exporter-toolkit web config): bcrypt for basic_auth_users.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        // Already in the graph through async-http-client; named for RSA-PSS (Yandex IAM JWTs).
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // Pure cost model: domain types and calculations. No network, no database, no clock.
        .target(name: "CostModel", swiftSettings: fuzzSettings),
        // zlib, for gzip of the exposition (one deflate per sync, see Exposition/Gzip.swift).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // SSE2 compares for the CSV reader's field scan (Providers/FOCUS/CSVReader.swift).
        .target(name: "CZenScan"),
        // The daemon's code, a library so that the fuzz targets (Fuzz/) can reach it; the
        // executable is only its entry point.
        .target(
            name: "ZenExporter",
            dependencies: [
                "CostModel",
                "CZlib",
                "CZenScan",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                // sqlite3_bind_* for the millions of daily-cost rows a large sync writes.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            // Exclusivity is proven at compile time for nearly all of this code; the dynamic
            // checks that remain were 8 % of rendering 100,000 series (perf, docs/benchmarks.md).
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))] + fuzzSettings
        ),
        .executableTarget(name: "ZenExporterMain", dependencies: ["ZenExporter"]),
        // libFuzzer targets (scripts/fuzz builds them with -sanitize=fuzzer -DFUZZING); in a plain
        // build, `zen-fuzz TARGET FILE…` replays inputs through a target (scripts/test, the corpus).
        .executableTarget(
            name: "ZenFuzz",
            dependencies: ["ZenExporter", "CostModel"],
            path: "Fuzz/Sources/ZenFuzz",
            swiftSettings: fuzzSettings,
            linkerSettings: fuzzLinking
        ),
        .testTarget(name: "CostModelTests", dependencies: ["CostModel"]),
        .testTarget(
            name: "ZenExporterTests",
            dependencies: [
                "ZenExporter",
                "CostModel",
                // inflate, to read the PNG screenshots headless Chromium takes of the HTML pages.
                "CZlib",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
    ]
)
