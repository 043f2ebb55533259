-- milter.lua - drives the real crm-milter binary over its socket with
-- miltertest (no MTA). Run by miltertest.sh with -D socket=PATH
-- -D scenario=NAME -D tag=STRING; each scenario sends one message and
-- checks the milter's answers; the shell then checks the spool.

local conn = mt.connect("unix:" .. socket, 40, 0.25)
if conn == nil then
	error("cannot connect to " .. socket)
end

local function check(what, err)
	if err ~= nil then
		error(what .. ": " .. tostring(err))
	end
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error(what .. ": reply is not continue")
	end
end

-- one transaction: connection facts, envelope, headers, body
local function message(host, ip, macros, from, rcpts, subject)
	check("connect", mt.conninfo(conn, host, ip))
	-- no mt.helo: crm-milter negotiates SMFIP_NOHELO (miltertest refuses
	-- to send it then); mailfrom moves the session past HELO itself
	for name, value in pairs(macros) do
		mt.macro(conn, SMFIC_MAIL, name, value)
	end
	check("mail", mt.mailfrom(conn, from))
	for _, r in ipairs(rcpts) do
		mt.macro(conn, SMFIC_RCPT, "{i}", "MT" .. tag)
		check("rcpt", mt.rcptto(conn, r))
	end
	check("data", mt.data(conn))
	check("header", mt.header(conn, "From", from))
	check("header", mt.header(conn, "To", rcpts[1]))
	check("header", mt.header(conn, "Subject", subject))
	check("header", mt.header(conn, "Message-ID", "<" .. tag .. "@example.com>"))
	check("eoh", mt.eoh(conn))
	check("body", mt.bodystring(conn, "Hello from miltertest\r\n"))
	if mt.eom(conn) ~= nil then
		error("eom failed")
	end
	if mt.getreply(conn) ~= SMFIR_CONTINUE then
		error("eom reply is not continue")
	end
	-- the message leaves unmodified (miltertest 1.0's eom_check cannot test
	-- recipient edits without naming one; header and body edits are checked)
	if mt.eom_check(conn, MT_HDRADD) or mt.eom_check(conn, MT_HDRCHANGE) or
	   mt.eom_check(conn, MT_HDRDELETE) or mt.eom_check(conn, MT_BODYCHANGE) then
		error("the milter modified the message")
	end
end

if scenario == "outbound-auth" then
	message("client.test", "198.51.100.7", { ["{auth_authen}"] = "alice" },
		"<alice@example.com>", { "<bob@customer.test>" }, "Outbound " .. tag)
elseif scenario == "outbound-network" then
	message("ws.example.com", "10.99.1.2", {},
		"<alice@example.com>", { "<bob@customer.test>", "<carol@customer.test>" }, "Network " .. tag)
elseif scenario == "inbound" then
	message("mx.customer.test", "203.0.113.9", {},
		"<bob@customer.test>", { "<alice@example.com>" }, "Inbound " .. tag)
elseif scenario == "internal" then
	message("ws.example.com", "10.99.1.2", {},
		"<alice@example.com>", { "<dan@example.com>" }, "Internal " .. tag)
else
	error("unknown scenario " .. tostring(scenario))
end

mt.disconnect(conn)
