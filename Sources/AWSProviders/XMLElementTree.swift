import Foundation

#if canImport(FoundationXML)
import FoundationXML
#endif

/// A parsed XML document as a tree of elements by local name (namespaces ignored: moto's and
/// AWS's differ by a trailing slash). Enough for the EC2 Query API's answers.
final class XMLElementNode: @unchecked Sendable {
    // Built once by the parser delegate on one thread, read-only afterwards.
    let name: String
    var children: [XMLElementNode] = []
    var text = ""

    init(name: String) { self.name = name }

    /// The first child named `name`.
    func child(_ name: String) -> XMLElementNode? { children.first { $0.name == name } }

    /// The children of the child `name` (EC2's `<set><item/>...</set>` lists).
    func items(_ name: String) -> [XMLElementNode] { child(name)?.children.filter { $0.name == "item" } ?? [] }

    /// The text of the descendant at `path` (`instanceState/name`).
    func value(_ path: String) -> String? {
        var node: XMLElementNode? = self
        for part in path.split(separator: "/") { node = node?.child(String(part)) }
        return node?.text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func parse(_ data: Data) -> XMLElementNode? {
        let builder = Builder()
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = true
        parser.delegate = builder
        guard parser.parse() else { return nil }
        return builder.root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLElementNode?
        var stack: [XMLElementNode] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let node = XMLElementNode(name: elementName)
            if let parent = stack.last { parent.children.append(node) } else { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }
    }
}
