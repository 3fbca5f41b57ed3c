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

// Exclusivity is proven at compile time for nearly all of this code; the dynamic checks that
// remained were 8 % of rendering 100,000 series (perf, docs/benchmarks.md).
let fast: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

/// A provider: its own target in Sources/Providers/<name>, on the shared layers only. It cannot
/// import another provider unless it names it here (Selectel reuses the OpenStack layer).
func provider(_ name: String, _ extra: [Target.Dependency] = []) -> Target {
    .target(
        name: "Provider\(name)",
        dependencies: [
            "CostModel", "Ingest", "SourceKit",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Yams", package: "Yams"),
        ] + extra,
        path: "Sources/Providers/\(name)",
        swiftSettings: fast + fuzzSettings
    )
}

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
        // The architecture, checked by the compiler: each target may import only what it lists.
        // CostModel at the bottom; Ingest and SourceKit under every provider; each provider its
        // own target, reaching another only through a shared layer (FocusFormat, the OpenStack
        // provider for Selectel); Storage and Exposition beside each other, neither knowing the
        // other; the daemon (ZenExporter) on top. docs/architecture.md draws the graph.

        // Pure cost model: domain types and calculations. No network, no database, no clock.
        .target(name: "CostModel", swiftSettings: fuzzSettings),
        // zlib, for gzip of the exposition (one deflate per sync, see Exposition/Gzip.swift).
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // SSE2 compares for the CSV reader's field scan (Ingest/CSVReader.swift).
        .target(name: "CZenScan"),
        // Bytes in: chunked files and gzip, the CSV reader, interning tables, provider dates.
        .target(name: "Ingest", dependencies: ["CostModel", "CZenScan", "CZlib"], swiftSettings: fast + fuzzSettings),
        // What every provider is built on: the Source protocol and snapshot, config reading, the
        // HTTP client with its retries, credentials, the failure a sync reports.
        .target(
            name: "SourceKit",
            dependencies: [
                "CostModel", "Ingest",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
                // PostgreSQL connections, shared by `usage:` queries and `type: focus_sql`.
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast + fuzzSettings
        ),
        // The FOCUS specification's rows into a snapshot: shared by `type: focus` (files) and
        // `type: focus_sql` (warehouse tables).
        .target(name: "FocusFormat", dependencies: ["CostModel", "Ingest", "SourceKit"], swiftSettings: fast + fuzzSettings),
        provider("Focus", ["FocusFormat"]),
        provider("Warehouse", ["FocusFormat", .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log")]),
        provider("OpenStack"),
        provider("Selectel", ["ProviderOpenStack"]),
        provider("Beget"),
        provider("Yandex", [.product(name: "_CryptoExtras", package: "swift-crypto")]),
        provider("CloudRu"),
        provider("Demo"),
        // SQLite through GRDB. Knows the model and what a sync hands it, never how it is shown.
        .target(
            name: "Storage",
            dependencies: [
                "CostModel", "SourceKit",
                .product(name: "GRDB", package: "GRDB.swift"),
                // sqlite3_bind_* for the millions of daily-cost rows a large sync writes.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: fast + fuzzSettings
        ),
        // The metric catalog (each metric defined once), the text format writer, gzip.
        .target(
            name: "Exposition",
            dependencies: ["CostModel", "CZlib", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: fast + fuzzSettings
        ),
        // The daemon: config, sync engine and estate, evaluation, rendering, HTTP, report, CLI.
        // A library so that the fuzz targets (Fuzz/) can reach it; the executable is only its
        // entry point.
        .target(
            name: "ZenExporter",
            dependencies: [
                "CostModel", "Ingest", "SourceKit", "FocusFormat", "Storage", "Exposition",
                "ProviderFocus", "ProviderWarehouse", "ProviderOpenStack", "ProviderSelectel", "ProviderBeget",
                "ProviderYandex", "ProviderCloudRu", "ProviderDemo",
                "CZlib",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
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
            swiftSettings: fast + fuzzSettings
        ),
        .executableTarget(name: "ZenExporterMain", dependencies: ["ZenExporter"]),
        // libFuzzer targets (scripts/fuzz builds them with -sanitize=fuzzer -DFUZZING); in a plain
        // build, `zen-fuzz TARGET FILE…` replays inputs through a target (scripts/test, the corpus).
        .executableTarget(
            name: "ZenFuzz",
            dependencies: ["ZenExporter", "CostModel", "Ingest", "SourceKit", "FocusFormat", "Storage", "Exposition",
                "ProviderFocus", "ProviderWarehouse", "ProviderOpenStack", "ProviderSelectel", "ProviderBeget",
                "ProviderYandex", "ProviderCloudRu", "ProviderDemo",],
            path: "Fuzz/Sources/ZenFuzz",
            swiftSettings: fuzzSettings,
            linkerSettings: fuzzLinking
        ),
        .testTarget(name: "CostModelTests", dependencies: ["CostModel"]),
        .testTarget(
            name: "ZenExporterTests",
            dependencies: [
                "ZenExporter",
                "CostModel", "Ingest", "SourceKit", "FocusFormat", "Storage", "Exposition",
                "ProviderFocus", "ProviderWarehouse", "ProviderOpenStack", "ProviderSelectel", "ProviderBeget",
                "ProviderYandex", "ProviderCloudRu", "ProviderDemo",
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
