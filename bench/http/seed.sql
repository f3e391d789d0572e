-- 100,000 tickets (each with one incoming message, its FTS row and an SLA
-- clock) for the web console benchmark. Ticket texts vary so that the
-- full-text index is realistic. :now is replaced by seed time.
PRAGMA journal_mode = WAL;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO tickets (id, subject, requester, requester_name, queue, status, priority, category,
                     category_confidence, sentiment, sentiment_label, language, created, updated, next_due)
SELECT i,
       'Commande CMD-' || (100000 + i) || ' ' || (CASE i % 5 WHEN 0 THEN 'pas reçue' WHEN 1 THEN 'facture fausse'
         WHEN 2 THEN 'lampe en panne' WHEN 3 THEN 'remboursement' ELSE 'question abonnement' END),
       'client' || i || '@example.com', 'Client ' || i,
       CASE i % 4 WHEN 0 THEN 'support' WHEN 1 THEN 'billing' WHEN 2 THEN 'technical' ELSE 'delivery' END,
       CASE WHEN i % 10 < 6 THEN 'resolved' WHEN i % 10 < 8 THEN 'open' ELSE 'new' END,
       CASE i % 7 WHEN 0 THEN 'high' WHEN 1 THEN 'low' ELSE 'normal' END,
       CASE i % 4 WHEN 0 THEN 'delivery' WHEN 1 THEN 'billing' WHEN 2 THEN 'technical' ELSE 'account' END,
       0.5 + (i % 50) / 100.0, ((i % 21) - 10) / 10.0,
       CASE WHEN i % 21 < 7 THEN 'negative' WHEN i % 21 < 14 THEN 'neutral' ELSE 'positive' END,
       'fr', :now - (100000 - i) * 60, :now - (100000 - i) * 60,
       NULL
FROM n;
INSERT INTO messages (ticket_id, direction, message_id, dedupe_key, from_addr, from_name, subject,
                      date, received, body_text, new_text)
SELECT id, 'in', 'bench-' || id || '@example.com', 'bench-' || id || '@example.com', requester,
       requester_name, subject, created, created,
       'Bonjour, ' || subject || '. Merci de votre aide, ticket numéro ' || id || '.',
       'Bonjour, ' || subject || '. Merci de votre aide, ticket numéro ' || id || '.'
FROM tickets;
-- The store indexes messages at commit (not by trigger): do it for the seed.
INSERT INTO messages_fts (rowid, subject, new_text) SELECT id, subject, new_text FROM messages;
INSERT INTO sla_clocks (ticket_id, target, policy, minutes, started, resumed, due, state, closed_at)
SELECT id, 'resolution', 'standard', 2880, created, created, created + 2880 * 60,
       CASE WHEN status = 'resolved' THEN 'met' ELSE 'running' END,
       CASE WHEN status = 'resolved' THEN created + 3600 END
FROM tickets;
UPDATE tickets SET next_due = (SELECT due FROM sla_clocks c WHERE c.ticket_id = tickets.id)
  WHERE status IN ('new', 'open');
COMMIT;
