// Subcommand groups of the kontor CLI; each adds its commands to the app.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/kontor/context.h"

namespace kontor::cli {

void AddKeysCommands(CLI::App& app, Context& ctx);
void AddTxCommands(CLI::App& app, Context& ctx);
void AddQueryCommands(CLI::App& app, Context& ctx);
void AddAuditCommands(CLI::App& app, Context& ctx);
void AddMarketCommands(CLI::App& app, Context& ctx);
void AddInvoiceCommands(CLI::App& app, Context& ctx);

}  // namespace kontor::cli
