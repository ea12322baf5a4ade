// swift-tools-version:6.2
import PackageDescription

// Every Crossbill target builds in Swift 6 language mode with these upcoming features.
var crossbillSwiftSettings: [SwiftSetting] {
    [
        .enableUpcomingFeature("ExistentialAny"),
        .enableUpcomingFeature("MemberImportVisibility"),
    ]
}

let package = Package(
    name: "Crossbill",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "ingest", targets: ["IngestMain"]),
        .executable(name: "transform", targets: ["TransformMain"]),
        .executable(name: "crm-writer", targets: ["CRMWriterMain"]),
        .executable(name: "erp-writer", targets: ["ERPWriterMain"]),
        .executable(name: "notifier", targets: ["NotifierMain"]),
        .executable(name: "dev-broker", targets: ["DevBroker"]),
        .executable(name: "bench-baseline", targets: ["BenchBaseline"]),
        .executable(name: "bench-pipeline", targets: ["BenchPipeline"]),
        .executable(name: "crossbill", targets: ["Crossbill"]),
        .executable(name: "sandbox", targets: ["SandboxMain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
    ],
    targets: [
        // C libraries, linked from the system (Debian: librdkafka-dev, libcurl4-openssl-dev).
        .systemLibrary(
            name: "CRdKafka",
            path: "Shared/CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"]), .brew(["librdkafka"])]
        ),
        .systemLibrary(
            name: "CCurl",
            path: "Shared/CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),

        // Shared libraries every service stands on.
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/Kafka",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "CurlHTTP",
            dependencies: [
                "CCurl",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/CurlHTTP",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "Contract",
            path: "Shared/Contract",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "SalesforceClient",
            dependencies: [
                "CurlHTTP", "Contract",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Shared/SalesforceClient",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "NetSuiteClient",
            dependencies: [
                "CurlHTTP", "Contract",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Shared/NetSuiteClient",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "ServiceRuntime",
            dependencies: [
                "Kafka", "Contract",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Shared/ServiceRuntime",
            swiftSettings: crossbillSwiftSettings
        ),
        // What both writers share: consuming commands in batches, results and dead letters, retries,
        // the link table and parked commands.
        .target(
            name: "CommandWriting",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/CommandWriting",
            swiftSettings: crossbillSwiftSettings
        ),

        // Services: the logic in a library, a thin executable around it.
        .target(
            name: "Ingest",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/Ingest/Library",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "IngestMain",
            dependencies: ["Ingest", "ServiceRuntime"],
            path: "Services/Ingest/Main",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "Transform",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/Transform/Library",
            resources: [.copy("Mappings")],
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "TransformMain",
            dependencies: ["Transform", "ServiceRuntime"],
            path: "Services/Transform/Main",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "CRMWriter",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime", "CommandWriting", "SalesforceClient", "CurlHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/CRMWriter/Library",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "CRMWriterMain",
            dependencies: ["CRMWriter", "ServiceRuntime"],
            path: "Services/CRMWriter/Main",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "ERPWriter",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime", "CommandWriting", "NetSuiteClient", "CurlHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/ERPWriter/Library",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "ERPWriterMain",
            dependencies: ["ERPWriter", "ServiceRuntime"],
            path: "Services/ERPWriter/Main",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "Notifier",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime", "CurlHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Services/Notifier/Library",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "NotifierMain",
            dependencies: ["Notifier", "ServiceRuntime"],
            path: "Services/Notifier/Main",
            swiftSettings: crossbillSwiftSettings
        ),

        // Development and operations tools.
        .executableTarget(
            name: "DevBroker",
            dependencies: [
                "Kafka", "Contract", "ServiceRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/DevBroker",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "Crossbill",
            dependencies: [
                "Kafka", "Contract",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/Crossbill",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "BenchBaseline",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Tools/BenchBaseline",
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "BenchPipeline",
            dependencies: [
                "Contract", "CurlHTTP", "Kafka",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/BenchPipeline",
            swiftSettings: crossbillSwiftSettings
        ),

        // The sandbox: Salesforce- and NetSuite-compatible API simulators. Written apart from the
        // writers' client code (no shared types) so a misunderstanding cannot hide on both sides.
        .target(
            name: "SandboxCore",
            dependencies: [
                "ServiceRuntime", "Contract",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tools/Sandbox/Core",
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "SalesforceSandbox",
            dependencies: [
                "SandboxCore", "Contract",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Tools/Sandbox/Salesforce",
            resources: [.copy("Resources/salesforce-objects.json")],
            swiftSettings: crossbillSwiftSettings
        ),
        .target(
            name: "NetSuiteSandbox",
            dependencies: [
                "SandboxCore", "Contract",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Tools/Sandbox/NetSuite",
            resources: [.copy("Resources/netsuite-records.json")],
            swiftSettings: crossbillSwiftSettings
        ),
        .executableTarget(
            name: "SandboxMain",
            dependencies: [
                "SandboxCore", "SalesforceSandbox", "NetSuiteSandbox",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Tools/Sandbox/Main",
            swiftSettings: crossbillSwiftSettings
        ),

        // Tests.
        .target(
            name: "TestSupport",
            dependencies: [
                "Kafka",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Tests/TestSupport",
            resources: [.copy("Fixtures")],
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "KafkaTests",
            dependencies: ["Kafka", "TestSupport"],
            path: "Tests/KafkaTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "CurlHTTPTests",
            dependencies: [
                "CurlHTTP", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CurlHTTPTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "IngestTests",
            dependencies: [
                "Ingest", "Kafka", "Contract", "ServiceRuntime", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/IngestTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "SandboxTests",
            dependencies: [
                "SandboxCore", "SalesforceSandbox", "NetSuiteSandbox", "CurlHTTP", "Contract", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SandboxTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "SalesforceClientTests",
            dependencies: [
                "SalesforceClient", "SalesforceSandbox", "SandboxCore", "CurlHTTP", "Contract", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/SalesforceClientTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "NetSuiteClientTests",
            dependencies: [
                "NetSuiteClient", "NetSuiteSandbox", "SandboxCore", "CurlHTTP", "Contract", "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/NetSuiteClientTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "TransformTests",
            dependencies: [
                "Transform", "Contract", "Kafka", "TestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            path: "Tests/TransformTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "ContractTests",
            dependencies: ["Contract", "TestSupport"],
            path: "Tests/ContractTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "NotifierTests",
            dependencies: ["Notifier", "Contract", "ServiceRuntime"],
            path: "Tests/NotifierTests",
            swiftSettings: crossbillSwiftSettings
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "Kafka", "Contract", "CurlHTTP", "TestSupport",
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/EndToEndTests",
            swiftSettings: crossbillSwiftSettings
        ),
        // The deployment files (Dockerfile, docker-compose.yml, deploy/) checked against the services.
        .testTarget(
            name: "DeploymentTests",
            dependencies: [
                "Contract", "Kafka", "ServiceRuntime", "CommandWriting", "NetSuiteClient", "TestSupport",
                "Ingest", "Transform", "CRMWriter", "ERPWriter", "Notifier",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Tests/DeploymentTests",
            swiftSettings: crossbillSwiftSettings
        ),
    ]
)
