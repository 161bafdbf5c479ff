// The `eventsource` package, as Node users install it: globalThis.EventSource. The user
// code is the browser's (clients/eventsource.js, streamcompatEventSource).
import { EventSource } from "eventsource";
import "../eventsource.js";

globalThis.EventSource = EventSource;
