import ZenExporter

await ZenExporterEntry.main()
