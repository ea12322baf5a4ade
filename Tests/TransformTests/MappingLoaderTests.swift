import Contract
import Foundation
import Testing

@testable import Transform

@Suite("Mapping files: defaults, mistakes reported by line, overrides")
struct MappingLoaderTests {
    @Test("the shipped Salesforce defaults load")
    func salesforceDefaults() throws {
        let set = try MappingLoader.load(system: .salesforce)
        #expect(set.system == .salesforce)
        let customer = try #require(set.mappings(for: "customer").first)
        #expect(customer.target == "Account")
        #expect(customer.externalIDField == "Billing_Id__c")
        #expect(customer.recordID == "external_salesforce_id")
        #expect(set.mappings(for: "invoice").map(\.target) == ["Billing_Invoice__c"])
        #expect(set.mappings(for: "plan").map(\.target).sorted() == ["PricebookEntry", "Product2"])
    }

    @Test("the shipped NetSuite defaults load")
    func netsuiteDefaults() throws {
        let set = try MappingLoader.load(system: .netsuite)
        #expect(set.system == .netsuite)
        #expect(set.mappings(for: "customer").map(\.target) == ["customer"])
        #expect(set.mappings(for: "invoice").map(\.name) == ["invoice", "invoice-void"])
        let invoice = try #require(set.objects.first { $0.name == "invoice" })
        #expect(invoice.sublists.map(\.target) == ["item"])
        #expect(set.items.fallback == nil)
    }

    private func loadError(_ system: TargetSystem, _ text: String) throws -> (MappingError, String) {
        let path = try writeMappingFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = try #require(throws: MappingError.self) { try MappingLoader.load(system: system, overridePath: path) }
        return (error, path)
    }

    @Test("an unknown converter is reported with its line and field")
    func unknownConverter() throws {
        let (error, path) = try loadError(.salesforce, """
            {
              "system": "salesforce",
              "objects": [
                {
                  "name": "customer",
                  "fields": [
                    {
                      "target": "Name",
                      "source": "name",
                      "convert": "centz"
                    }
                  ]
                }
              ]
            }
            """)
        #expect(error.file == path)
        #expect(error.line == 10)
        #expect(error.field.contains("convert"))
        #expect(error.field == "objects[customer].fields[Name].convert")
        #expect(error.message.contains("centz"))
    }

    @Test("an unknown key in an object is reported with its line")
    func unknownKey() throws {
        let (error, path) = try loadError(.salesforce, """
            {
              "system": "salesforce",
              "objects": [
                {
                  "name": "customer",
                  "colour": "blue"
                }
              ]
            }
            """)
        #expect(error.file == path)
        #expect(error.line == 6)
        #expect(error.field == "objects[customer].colour")
    }

    @Test("invalid JSON is reported at the line of the problem")
    func invalidJSON() throws {
        let (error, path) = try loadError(.salesforce, """
            {
              "system": "salesforce"
              "objects": []
            }
            """)
        #expect(error.file == path)
        #expect(error.line == 3)
        #expect(error.message.contains("not valid JSON"))
    }

    @Test("a NetSuite file used for a Salesforce connection is refused")
    func wrongSystem() throws {
        let (error, path) = try loadError(.salesforce, """
            {
              "system": "netsuite",
              "objects": []
            }
            """)
        #expect(error.file == path)
        #expect(error.line == 2)
        #expect(error.field == "system")
    }

    @Test("an override adds a custom field and keeps the default fields")
    func overrideAddsField() async throws {
        let salesforce = try connection(.salesforce, override: """
            {"system": "salesforce", "objects": [
              {"name":"customer","fields":[{"target":"Segment__c","source":"metadata.0.value"}]}
            ]}
            """)
        let defaults = try MappingLoader.load(system: .salesforce)
        let defaultCount = try #require(defaults.mappings(for: "customer").first).fields.count
        let customer = try #require(salesforce.mappings.mappings(for: "customer").first)
        #expect(customer.fields.count == defaultCount + 1)

        let harness = try Harness([salesforce])
        let outputs = try await harness.run(billingMessage(try lagoEvent("customer.created"), id: "e1", type: "customer.created"))
        let command = try #require(outputs.commands.first { $0.object == "Account" })
        #expect(command.fields["Segment__c"] == "enterprise")
        #expect(command.fields["Name"] == "Acme Corp")
        #expect(command.fields["Billing_Email__c"] == "billing@acme.example")
    }

    @Test("enabled false turns a default object off")
    func overrideDisables() async throws {
        let salesforce = try connection(.salesforce, override: """
            {"system": "salesforce", "objects": [{"name": "customer", "enabled": false}]}
            """)
        #expect(salesforce.mappings.mappings(for: "customer").isEmpty)
        let harness = try Harness([salesforce])
        let outputs = try await harness.run(billingMessage(try lagoEvent("customer.created"), id: "e1", type: "customer.created"))
        #expect(outputs.commands.isEmpty)
        let result = try #require(outputs.results.first)
        #expect(outputs.count == 1)
        #expect(result.outcome == .skipped)
        #expect(result.reason == "no_mapping")
    }
}
